/** Every command answers --help: each backup-all command the program registers, and the benchmark. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/commands/program.js';
import { BIN } from './helpers/run-cli.js';

const BENCH = fileURLToPath(new URL('../bench/bench.ts', import.meta.url));
const oneLine = (text: string) => text.replace(/\s+/g, ' ');

// From the program itself, so a command added later is covered without touching this list.
const program = buildProgram(() => {});
const commands = [
  { args: [], name: program.name(), description: program.description() },
  ...program.commands.map((c) => ({ args: [c.name()], name: `${program.name()} ${c.name()}`, description: c.description() })),
];

describe('backup-all --help', () => {
  it('knows the commands the README lists', () => {
    expect(program.commands.map((c) => c.name()).sort()).toEqual(expect.arrayContaining(['admin-db', 'audit', 'check', 'list', 'restore', 'verify']));
  });

  it.each(commands)('$name --help says what it does and exits 0', async ({ args, name, description }) => {
    // No environment: help needs no configuration.
    const run = await execa(process.execPath, [BIN, ...args, '--help'], { env: { PATH: process.env.PATH ?? '' }, extendEnv: false, reject: false });
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('');
    expect(description.length).toBeGreaterThan(10);
    expect(run.stdout).toMatch(new RegExp(`^Usage: ${name} `));
    expect(oneLine(run.stdout)).toContain(oneLine(description));
    expect(run.stdout).toContain('--help');
  });
});

describe('npm run bench -- --help', () => {
  const bench = (...args: string[]) => execa(process.execPath, ['--import', 'tsx', BENCH, ...args], { reject: false, timeout: 60_000 });

  it('prints the usage and exits 0, starting nothing', async () => {
    const run = await bench('--help');
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^Usage: npm run bench -- \[options\]/);
    for (const option of ['--size-gib', '--runs', '--fleet', '--concurrency', '--only', '--pg-data', '--maria-data', '--sweep', '--json', '--bin', '--s3', '--env', '--quick']) {
      expect(run.stdout).toContain(option);
    }
  });

  it.each([
    [['--no-such-option'], "error: unknown option '--no-such-option'"],
    [['--runs', 'many'], "error: option '--runs <n>' argument 'many' is invalid. expected a positive number."],
    [['--only', 'pg,mongo'], 'expected some of pg, maria, fleet, restore, counters, not mongo.'],
    [['--s3', 'minio'], 'expected some of moto, null, not minio.'],
  ])('%j is one clear sentence and exit 2', async (args, message) => {
    const run = await bench(...args);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(message);
  });
});
