# Copied from the project's shared tools (/work/shared/tools/moto-iam.py on the development machine) so that a clean clone
# has it; used by test/rig/moto-iam.ts. Written for moto 5.2.1 (the patches below name moto internals).
#
# A moto_server launcher for least-privilege tests: IAM policies enforced (INITIAL_NO_AUTH_ACTION_COUNT from env), but
# (1) SigV4 signature recomputation skipped: moto 5.2.1 miscomputes it for keys containing ':' (aws cli fails too),
#     every backup key has ':' (backup_id); the access key must still exist and the policy is still evaluated;
# (2) HeadBucket authorised as s3:ListBucket, as real AWS does (moto uses a non-existent s3:HeadBucket action).
# Added in this repository:
# (3) DeleteObjects authorised as s3:DeleteObject on each key's ARN, as real AWS does (moto asks for it on the bucket's
#     ARN, so the policy of docs/iam-policy.md, scoped to arn:aws:s3:::BUCKET/PREFIX/*, could never delete). Simplified:
#     when any key is denied, every key of the request is answered AccessDenied (moto's own path for a denial).
import sys
import moto.iam.access_control as ac
import moto.s3.responses as r
ac.IAMRequestBase.check_signature = lambda self: None
r.ACTION_MAP["BUCKET"]["HEAD"]["DEFAULT"] = "ListBucket"

import xmltodict
from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError
_authorize = r.S3Response._authenticate_and_authorize_s3_action
def _authorize_each_key(self, bucket_name=None, key_name=None):
    if key_name is not None or self.data.get("Action") != "DeleteObject" or not self.is_delete_keys():
        return _authorize(self, bucket_name=bucket_name, key_name=key_name)
    objects = xmltodict.parse(self.body)["Delete"].get("Object", [])
    for obj in objects if isinstance(objects, list) else [objects]:
        try:
            _authorize(self, bucket_name=bucket_name, key_name=obj["Key"])
        except S3AccessDeniedError:
            raise BucketAccessDeniedError(bucket=bucket_name)
r.S3Response._authenticate_and_authorize_s3_action = _authorize_each_key
from moto.server import main
sys.exit(main(sys.argv[1:]))
# usage: INITIAL_NO_AUTH_ACTION_COUNT=N python3 moto-iam.py -H 127.0.0.1 -p PORT   (python3: the one moto is installed in)
