// What S3 said, in words an operator can act on: the one place that reads S3 errors (code, HTTP status, message),
// and the error for objects and uploads a failed backup could not remove.

/** S3's error code: `Code` from the XML body, else the SDK's name (bodyless answers to HEAD: 'NotFound', 'Unknown'). */
export function s3ErrorCode(err: unknown): string {
  if (!(err instanceof Error)) return 'Error';
  return (err as { Code?: string }).Code ?? err.name;
}

function httpStatusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** What S3 answered: its error code, the HTTP status (none when there was no answer) and its message. */
export interface S3ErrorInfo {
  code: string;
  status?: number;
  message: string;
}

/**
 * S3's code, the HTTP status and S3's message. An answer to a HEAD request has no body, so the SDK knows no code or
 * message ('Unknown', 'UnknownError'): those are named from the status instead.
 */
export function s3ErrorOf(err: unknown): S3ErrorInfo {
  if (!(err instanceof Error)) return { code: 'Error', message: String(err) };
  const status = httpStatusOf(err);
  if (err.message === 'UnknownError' && status === 403) {
    return { code: 'Forbidden', status, message: 'access denied (an answer to HEAD gives no reason: the access key is not valid, or lacks the permission)' };
  }
  if (err.message === 'UnknownError' && status === 404) return { code: 'NotFound', status, message: 'no such bucket or object' };
  return { code: s3ErrorCode(err), ...(status ? { status } : {}), message: err.message };
}

/** `Code (HTTP status): message`, e.g. `AccessDenied (HTTP 403): Access Denied`. */
export function describeS3Error(err: unknown): string {
  return err instanceof Error ? formatS3Error(s3ErrorOf(err)) : String(err);
}

export function formatS3Error({ code, status, message }: S3ErrorInfo): string {
  return `${code}${status ? ` (HTTP ${status})` : ''}: ${message}`;
}

/**
 * One sentence when the error of a request on the bucket (listing it, HeadBucket; not HeadObject, whose 404 is about
 * the object) is about the bucket or the credentials themselves, so that no other request can succeed either; else
 * undefined. `accessKeyId` is named when known (it is not a secret).
 */
export function bucketOrCredentialsProblem(err: unknown, bucket: string, accessKeyId?: string): string | undefined {
  const key = accessKeyId ? `the access key ${accessKeyId}` : 'the access key';
  switch (s3ErrorOf(err).code) {
    case 'NoSuchBucket':
    case 'NotFound': // HeadBucket's bodyless 404
      return `the bucket ${bucket} does not exist (AWS_BUCKET_NAME, or AWS_DEFAULT_REGION / the endpoint point elsewhere)`;
    case 'InvalidAccessKeyId':
      return `${key} is not valid: S3 knows no such access key id (AWS_ACCESS_KEY_ID, or what the AWS credential chain found)`;
    case 'SignatureDoesNotMatch':
      return `the secret access key does not match ${key} (AWS_SECRET_ACCESS_KEY)`;
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
      return `the session token of ${key} has expired (AWS_SESSION_TOKEN, or the role's credentials)`;
    case 'InvalidToken':
      return `the session token of ${key} is not valid (AWS_SESSION_TOKEN)`;
    case 'CredentialsProviderError':
      return 'no AWS credentials found (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or an instance role)';
    case 'Forbidden': // HeadBucket's bodyless 403
      return `${key} is not valid or not allowed to list the bucket ${bucket} (s3:ListBucket; docs/iam-policy.md)`;
    default:
      return undefined;
  }
}

/** An object a failed backup could not delete, or (with uploadId) a multipart upload it could not abort. */
export interface LeftBehind {
  key: string;
  uploadId?: string;
  /** S3's error code for this key (per-key Errors of DeleteObjects) or for the whole request. */
  code: string;
  message: string;
}

export function describeLeftBehind(bucket: string, item: LeftBehind): string {
  const what = item.uploadId ? `multipart upload ${item.uploadId} of s3://${bucket}/${item.key}` : `s3://${bucket}/${item.key}`;
  return `${what} (${item.code}: ${item.message})`;
}

/** Objects S3 would not delete (DeleteObjects answers 200 with per-key Errors, or the request failed). */
export class CleanupFailed extends Error {
  override name = 'CleanupFailed';
  constructor(
    readonly bucket: string,
    readonly leftBehind: LeftBehind[],
  ) {
    super(`could not delete ${leftBehind.length === 1 ? 'an object' : `${leftBehind.length} objects`}: ${leftBehind.map((item) => describeLeftBehind(bucket, item)).join('; ')}`);
  }
}

/** The LeftBehind for a key (or an upload) whose removal failed with `err`. */
export function leftBehindOf(key: string, err: unknown, uploadId?: string): LeftBehind {
  const { code, message } = s3ErrorOf(err);
  return { key, ...(uploadId ? { uploadId } : {}), code, message };
}
