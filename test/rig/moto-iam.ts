/**
 * moto with IAM enforced (moto-iam.py): S3 requests are allowed only as the policies of their access key say, so a
 * test can run the tool as a user holding exactly a given policy. The server lets its first BOOTSTRAP_REQUESTS
 * requests through unauthenticated (INITIAL_NO_AUTH_ACTION_COUNT); they create an administrator, whose key then sets
 * up users and buckets. State lives in memory and is lost on stop.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { ListBucketsCommand, type S3Client } from '@aws-sdk/client-s3';
import { httpStatus } from './moto.js';
import { freePort, LOOPBACK } from './ports.js';
import { ownedDir, spawnServer, type ServerProcess } from './proc.js';
import { s3Client, TEST_REGION } from './s3.js';
import { GiveUp, waitUntil, withLogTails } from './wait.js';

const SCRIPT = fileURLToPath(new URL('./moto-iam.py', import.meta.url));
const READY_TIMEOUT_MS = 20_000;
/** CreateUser, PutUserPolicy, CreateAccessKey of the administrator: after these, every request is checked. */
const BOOTSTRAP_REQUESTS = 3;

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** An IAM policy document (the JSON of `aws iam put-user-policy`). */
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: { Sid?: string; Effect: 'Allow' | 'Deny'; Action: string | string[]; Resource: string | string[] }[];
}

export interface IamMotoServer {
  endpoint: string;
  logFile: string;
  /** A user allowed everything: for setting up buckets and for looking at what the tool left. */
  admin: Credentials;
  /** An S3 client with the administrator's key. */
  adminS3: S3Client;
  /** A new IAM user holding exactly `policy` (one inline policy), and its access key. */
  createUser(name: string, policy: PolicyDocument): Promise<Credentials>;
  stop(): Promise<void>;
}

export async function startIamMoto(opts: { baseDir: string; name?: string }): Promise<IamMotoServer> {
  const dir = await ownedDir(join(opts.baseDir, opts.name ?? 'moto-iam'));
  const port = await freePort();
  const endpoint = `http://${LOOPBACK}:${port}`;
  const logFile = join(dir, 'moto.log');
  let server: ServerProcess | undefined;
  return withLogTails([logFile], async () => {
    server = spawnServer('python3', [SCRIPT, '-H', LOOPBACK, '-p', String(port)], {
      logFile,
      cwd: dir,
      pidFile: join(dir, 'moto.pid'),
      env: { INITIAL_NO_AUTH_ACTION_COUNT: String(BOOTSTRAP_REQUESTS) },
    });
    const running = server;
    try {
      // moto's own API answers without counting as a request to authorise (a plain GET / would use one up).
      await waitUntil(
        async () => {
          if (!running.running()) throw new GiveUp('moto-iam.py exited');
          return (await httpStatus(`${endpoint}/moto-api/`)) > 0;
        },
        READY_TIMEOUT_MS,
        `moto (IAM enforced) to answer on ${endpoint}`,
      );
      const iam = (credentials: Credentials) => new IAMClient({ endpoint, region: TEST_REGION, credentials });
      const admin = await createIamUser(iam({ accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' }), 'rig-admin', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      });
      const adminS3 = s3Client(endpoint, admin);
      // The bootstrap window must be over: a test that passes because nothing is checked would prove nothing.
      const stranger = s3Client(endpoint, { accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'x' });
      const refused = await stranger.send(new ListBucketsCommand({})).then(
        () => false,
        () => true,
      );
      stranger.destroy();
      if (!refused) throw new Error('moto answered a request with an unknown access key: IAM is not enforced');
      const adminIam = iam(admin);
      return {
        endpoint,
        logFile,
        admin,
        adminS3,
        createUser: (name, policy) => createIamUser(adminIam, name, policy),
        stop: async () => {
          adminS3.destroy();
          adminIam.destroy();
          await running.stop('SIGTERM');
        },
      };
    } catch (e) {
      await running.stop('SIGTERM');
      throw e;
    }
  });
}

async function createIamUser(iam: IAMClient, name: string, policy: PolicyDocument): Promise<Credentials> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: `${name}-policy`, PolicyDocument: JSON.stringify(policy) }));
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  if (!AccessKey?.AccessKeyId || !AccessKey.SecretAccessKey) throw new Error(`IAM returned no access key for ${name}`);
  return { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey };
}
