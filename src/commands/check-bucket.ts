// `check`'s S3 part: tries every request tonight's run (and a restore) makes, on a test object of its own, and names
// each one the credentials may not make by its IAM action (docs/iam-policy.md). It removes what it created, or says
// exactly what it could not remove.
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Config } from '../config.js';
import { lifecycleHasAbortRule } from '../storage/lifecycle.js';
import { deleteObjects, headObject, sseMismatch, sseRequest } from '../storage/s3.js';
import { checkProbeKey, s3Url } from '../storage/layout.js';
import { bucketOrCredentialsProblem, CleanupFailed, describeS3Error, formatS3Error, s3ErrorOf, type S3ErrorInfo } from '../storage/s3-errors.js';

type Print = (line: string) => void;
export interface CheckReport {
  ok: Print;
  fail: Print;
  warn: Print;
}

const POLICY_DOC = 'docs/iam-policy.md';
const PROBE_BODY = 'mydb-backup check';

/** A permission the tool needs: its IAM action, the KMS actions it also takes with SSE-KMS, and what fails without it. */
interface Need {
  action: string;
  kms?: string;
  without: string;
  /** Only check itself needs it: a warning, not a failure. */
  checkOnly?: boolean;
}

const NEEDS = {
  list: { action: 's3:ListBucket', without: 'backups cannot be listed (list, restore, verify)' },
  put: { action: 's3:PutObject', kms: 'kms:GenerateDataKey', without: 'no backup can be written' },
  head: { action: 's3:GetObject', without: 'uploaded backups cannot be verified, nor restored' },
  get: { action: 's3:GetObject', kms: 'kms:Decrypt', without: 'backups cannot be restored or verified' },
  multipart: { action: 's3:PutObject', kms: 'kms:GenerateDataKey, kms:Decrypt', without: 'dumps larger than one part cannot be uploaded' },
  listUploads: { action: 's3:ListBucketMultipartUploads', without: 'multipart uploads a killed run left open cannot be found' },
  abort: {
    action: 's3:AbortMultipartUpload',
    without: 'the upload of a failed backup cannot be aborted: its parts stay, billed, until a lifecycle rule aborts them',
  },
  delete: { action: 's3:DeleteObject', without: 'failed backups cannot be cleaned up: the objects they completed stay' },
  lifecycle: {
    action: 's3:GetLifecycleConfiguration',
    without: 'check cannot see whether the bucket aborts incomplete multipart uploads',
    checkOnly: true,
  },
} satisfies Record<string, Need>;

/** The credentials or the bucket themselves are wrong: no further request can succeed. */
class Unusable extends Error {}

interface AttemptOptions {
  /** The first request: anything but a denial stops the checks. */
  first?: boolean;
  /** A HEAD of the test object: its bodyless 403/404 is about the object, not the bucket or the key. */
  objectHead?: boolean;
}
type Attempt = <T>(need: Need, what: string, request: () => Promise<T>, opts?: AttemptOptions) => Promise<{ value: T } | undefined>;

/** What was left in the bucket: the test object, or (with uploadId) the test's multipart upload. */
interface Leftover {
  key: string;
  uploadId?: string;
}

/** False when the bucket or the credentials cannot be used at all (reported once, as one FAIL). */
export async function checkBucket(client: S3Client, config: Config, report: CheckReport): Promise<boolean> {
  const { bucket, prefix, sse } = config.s3;
  const at = (line: string) => `bucket ${bucket}: ${line}`;
  const accessKeyId = await client.config
    .credentials()
    .then((c) => c.accessKeyId)
    .catch(() => undefined);
  const kmsNote = (need: Need) => (sse.mode === 'aws:kms' && need.kms ? ` (and ${need.kms} on the KMS key ${sse.kmsKeyId})` : '');

  /** Makes one request; on failure reports it (by IAM action when denied) and returns undefined. */
  const attempt: Attempt = async (need, what, request, opts) => {
    try {
      return { value: await request() };
    } catch (err) {
      // deleteObjects reports S3's per-key answer (DeleteObjects answers 200 even when every key is denied).
      const said = err instanceof CleanupFailed && err.leftBehind[0] ? err.leftBehind[0] : s3ErrorOf(err);
      const aboutObject = opts?.objectHead && (said.code === 'Forbidden' || said.code === 'NotFound');
      const problem = aboutObject ? undefined : bucketOrCredentialsProblem(err, bucket, accessKeyId);
      if (problem) throw new Unusable(problem);
      // Only a denial lets the others be tried: S3 unreachable, a wrong endpoint... would fail them all, slowly.
      if (opts?.first && !isDenial(said)) throw new Unusable(`${what} failed: ${describeS3Error(err)}`);
      (need.checkOnly ? report.warn : report.fail)(at(failure(need, what, said, kmsNote(need))));
      return undefined;
    }
  };

  const probeKey = checkProbeKey(prefix);
  const leftBehind: Leftover[] = [];
  try {
    // Listing first: the bucket and the credentials themselves are judged by its answer, which (unlike HeadBucket's)
    // carries S3's error code.
    const listed = await attempt(
      NEEDS.list,
      'listing the bucket',
      () => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, MaxKeys: 1 })),
      { first: true },
    );
    if (listed) report.ok(at(`${NEEDS.list.action} allowed (listing backups)`));

    const put = await attempt(NEEDS.put, `writing a test object with ${sse.mode} encryption`, () =>
      client.send(new PutObjectCommand({ Bucket: bucket, Key: probeKey, Body: PROBE_BODY, ...sseRequest(sse) })),
    );
    if (put) {
      const head = await attempt(NEEDS.head, 'HeadObject of the test object', () => headObject(client, bucket, probeKey), { objectHead: true });
      const wrongEncryption = head && sseMismatch(head.value, sse);
      if (wrongEncryption) {
        // Some stores (Ceph RGW) take the AES256 header and report nothing back: every backup would fail the same way.
        const unreportedSseS3 =
          sse.mode === 'AES256' && head.value.ServerSideEncryption === undefined
            ? '; the store took the AES256 request but does not report SSE-S3 on its objects (Ceph RGW does this), so every backup ' +
              'would fail verification: set BACKUP_SSE=aws:kms with BACKUP_SSE_KMS_KEY_ID, or give the bucket a default encryption ' +
              'where the store reports it (docs/s3-stores.md)'
            : '';
        report.fail(`bucket ${bucket}: a test object was stored with the wrong encryption: ${wrongEncryption}${unreportedSseS3}`);
      }
      else if (head) report.ok(`bucket ${bucket} writable with ${sse.mode} encryption`);
      // Reading the bytes back is what needs kms:Decrypt with SSE-KMS (HeadObject does not).
      const got =
        head &&
        (await attempt(NEEDS.get, 'reading the test object back', async () => {
          const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: probeKey }));
          return answer.Body?.transformToString();
        }));
      if (got && got.value !== PROBE_BODY) report.fail(at('the test object came back different from what was written'));
      else if (got) report.ok(at(`${NEEDS.get.action} allowed (verifying and restoring backups)`));
    } else {
      report.warn(at(`${NEEDS.get.action} and ${NEEDS.delete.action} not checked: the test object could not be written`));
    }

    await checkMultipart(client, config, probeKey, attempt, report, leftBehind);

    if (put) {
      const deleted = await attempt(NEEDS.delete, 'deleting the test object', () => deleteObjects(client, bucket, [probeKey]));
      if (deleted) report.ok(at(`${NEEDS.delete.action} allowed (cleaning up failed backups)`));
      else leftBehind.push({ key: probeKey });
    }

    const abortRule = await attempt(NEEDS.lifecycle, 'reading the lifecycle rules', () => lifecycleHasAbortRule(client, bucket, prefix));
    if (abortRule?.value) report.ok(`bucket ${bucket} aborts incomplete multipart uploads (lifecycle rule)`);
    else if (abortRule) {
      report.warn(
        `bucket ${bucket} has no lifecycle rule aborting incomplete multipart uploads: parts of killed uploads stay ` +
          '(and are billed) until aborted; apply s3-lifecycle.json (aws s3api put-bucket-lifecycle-configuration)',
      );
    }
  } catch (err) {
    if (!(err instanceof Unusable)) throw err;
    report.fail(at(err.message));
    return false;
  }
  for (const item of leftBehind) {
    report.warn(
      item.uploadId
        ? at(`check left its multipart upload ${item.uploadId} of ${item.key} open: ` +
            `aws s3api abort-multipart-upload --bucket ${bucket} --key '${item.key}' --upload-id '${item.uploadId}'`)
        : at(`check left its test object ${s3Url(bucket, item.key)} behind: aws s3 rm '${s3Url(bucket, item.key)}'`),
    );
  }
  return true;
}

/** Start a multipart upload, send a part, find it in the listing, abort it: what a dump larger than one part does. */
async function checkMultipart(
  client: S3Client,
  config: Config,
  key: string,
  attempt: Attempt,
  report: CheckReport,
  leftBehind: Leftover[],
): Promise<void> {
  const { bucket, sse } = config.s3;
  const at = (line: string) => `bucket ${bucket}: ${line}`;
  const created = await attempt(NEEDS.multipart, 'starting a multipart upload', () =>
    client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...sseRequest(sse) })),
  );
  const uploadId = created?.value.UploadId;
  if (!uploadId) {
    report.warn(at(`${NEEDS.listUploads.action} and ${NEEDS.abort.action} not checked: no multipart upload could be started`));
    return;
  }
  const part = await attempt(NEEDS.multipart, 'uploading a part', () =>
    client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: PROBE_BODY })),
  );
  if (part) report.ok(at(`multipart uploads work (${NEEDS.multipart.action})`));
  const listed = await attempt(NEEDS.listUploads, 'listing multipart uploads', () =>
    client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key })),
  );
  if (listed && !listed.value.Uploads?.some((u) => u.UploadId === uploadId)) {
    report.fail(at(`the multipart upload just started is missing from the listing of multipart uploads`));
  } else if (listed) report.ok(at(`${NEEDS.listUploads.action} allowed (finding uploads a killed run left open)`));
  const aborted = await attempt(NEEDS.abort, 'aborting the multipart upload', () =>
    client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })),
  );
  if (aborted) report.ok(at(`${NEEDS.abort.action} allowed (aborting the uploads of failed backups)`));
  else leftBehind.push({ key, uploadId });
}

/** "s3:DeleteObject is denied (AccessDenied: …): failed backups cannot be cleaned up; grant it (docs/iam-policy.md)". */
function failure(need: Need, what: string, error: S3ErrorInfo, kmsNote: string): string {
  const said = formatS3Error(error);
  if (isDenial(error)) return `${need.action}${kmsNote} is denied (${said}): ${need.without}; grant it (${POLICY_DOC})`;
  return `${what} failed (${said}): ${need.without}`;
}

/** AccessDenied, or the bodyless 403 of a HEAD (which can only mean the same once the credentials listed the bucket). */
function isDenial(error: S3ErrorInfo): boolean {
  return error.code === 'AccessDenied' || error.code === 'Forbidden';
}
