/** The engines' commands and the aws CLI as lines of the bash scripts the benchmark times. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Command } from '../src/engines/types.js';
import { sh } from './measure.js';

/** A command as a bash line, and the environment its script needs. */
export interface ShellCommand {
  line: string;
  /** The command's secrets (PGPASSWORD...): the script's environment, never its text (which `ps` shows). */
  env: Record<string, string>;
}

let configFiles = 0;

/** A Command as a bash line: its plain env inline, its secret env for the script's environment, a config file in `dir`. */
export async function shellCommand(command: Command, dir: string): Promise<ShellCommand> {
  let argv: string[] = [...command.argv];
  if (command.configFile) {
    configFiles += 1;
    const path = join(dir, `${command.argv[0]}-${configFiles}.cnf`);
    await writeFile(path, command.configFile.content, { mode: 0o600 });
    const [program = '', ...rest] = argv;
    argv = command.configFile.position === 'first' ? [program, ...command.configFile.args(path), ...rest] : [...argv, ...command.configFile.args(path)];
  }
  const env = Object.entries(command.env ?? {}).map(([k, v]) => `${k}=${sh(v)}`);
  return { line: [...(env.length ? ['env', ...env] : []), ...argv.map(sh)].join(' '), env: { ...command.secretEnv } };
}

/** The real aws program (pyenv's shim adds a bash + pyenv exec on every start), or undefined when missing. */
export async function findAws(): Promise<string | undefined> {
  const viaPyenv = await execa('pyenv', ['which', 'aws'], { reject: false });
  if (viaPyenv.exitCode === 0 && viaPyenv.stdout.trim()) return viaPyenv.stdout.trim();
  const onPath = await execa('sh', ['-c', 'command -v aws'], { reject: false });
  return onPath.exitCode === 0 && onPath.stdout.trim() ? onPath.stdout.trim() : undefined;
}

/** The aws CLI as the old tool ran it: `aws s3 cp` from stdin to S3 with SSE, and back to stdout. */
export class AwsCli {
  constructor(
    private readonly program: string,
    private readonly dir: string,
  ) {}

  /** Its environment: the S3 servers' test credentials, and no config file of this machine's. */
  env(): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing-secret-key',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(this.dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(this.dir, 'no-aws-credentials'),
    };
  }

  upload(endpoint: string, bucket: string, key: string): string {
    return `${sh(this.program)} --endpoint-url ${sh(endpoint)} s3 cp - ${sh(`s3://${bucket}/${key}`)} --sse AES256 --only-show-errors`;
  }

  download(endpoint: string, bucket: string, key: string): string {
    return `${sh(this.program)} --endpoint-url ${sh(endpoint)} s3 cp ${sh(`s3://${bucket}/${key}`)} - --only-show-errors`;
  }
}
