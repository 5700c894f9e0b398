// Retention lives in S3 lifecycle rules (s3-lifecycle.json), not in this tool. `check` warns when the bucket lacks the
// one rule the pipeline relies on: aborting incomplete multipart uploads (a killed run can leave parts behind, and
// parts are billed while invisible to listings).
import { GetBucketLifecycleConfigurationCommand, type LifecycleRule, type S3Client } from '@aws-sdk/client-s3';
import { s3ErrorCode } from './s3-errors.js';

/** Does the rule apply to keys under `prefix` (empty filter, or a prefix filter that covers it)? Pure. */
export function ruleCovers(rule: LifecycleRule, prefix: string): boolean {
  const rulePrefix = rule.Filter?.Prefix ?? rule.Filter?.And?.Prefix ?? rule.Prefix ?? '';
  // Tag or size filters narrow a rule to some objects: not the ones an aborted upload leaves.
  if (rule.Filter?.Tag || rule.Filter?.And?.Tags?.length || rule.Filter?.ObjectSizeGreaterThan || rule.Filter?.And?.ObjectSizeGreaterThan) return false;
  return prefix.startsWith(rulePrefix);
}

/**
 * True when an enabled lifecycle rule aborts incomplete multipart uploads under `prefix` (default: the whole bucket).
 * A bucket without any lifecycle configuration: false. Other errors (access denied) are thrown for the caller to say.
 */
export async function lifecycleHasAbortRule(client: S3Client, bucket: string, prefix = ''): Promise<boolean> {
  let rules: LifecycleRule[];
  try {
    rules = (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
  } catch (err) {
    if (s3ErrorCode(err) === 'NoSuchLifecycleConfiguration') return false;
    throw err;
  }
  return rules.some(
    (r) => r.Status === 'Enabled' && (r.AbortIncompleteMultipartUpload?.DaysAfterInitiation ?? 0) > 0 && ruleCovers(r, prefix ? `${prefix}/` : ''),
  );
}
