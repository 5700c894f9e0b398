/**
 * The benchmark's smoke run (`npm run bench -- --quick`, tiny sizes) keeps its scenarios from rotting: every data
 * set and every scenario must produce its row, on both S3 servers, restores included. No figure is asserted: speed
 * is measured by `npm run bench` on a quiet machine, never by tests. The bench starts its own rig.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

interface BenchJson {
  sections: { id: string; dataBytes: number; description: string }[];
  rows: { section: string; kind: string; s3?: string; variant?: string; storedBytes?: number; stats: { wallS: number } }[];
  fleet: { concurrency: number }[];
  notes: string[];
}

/** What every run must report: section, kind, S3 server, variant. */
function expectedRows(): string[] {
  const rows: string[] = [];
  const key = (section: string, kind: string, s3 = '-', variant = '-') => `${section} ${kind} ${s3} ${variant}`;
  for (const dataset of ['random', 'app', 'pgbench']) {
    const section = `postgres/${dataset}`;
    rows.push(key(section, 'A0'), key(section, 'AZ'), key(section, 'A'));
    for (const s3 of ['moto', 'null']) rows.push(key(section, 'B', s3), key(section, 'C', s3));
    rows.push(key(section, 'R_B', 'moto'), key(section, 'R_C', 'moto'));
  }
  for (const dataset of ['events', 'app']) {
    const section = `mariadb/${dataset}`;
    rows.push(key(section, 'A'));
    for (const s3 of ['moto', 'null']) {
      rows.push(key(section, 'B', s3));
      for (const compression of ['none', 'gzip', 'zstd']) rows.push(key(section, 'C', s3, compression));
    }
    rows.push(key(section, 'R_B', 'moto'), key(section, 'R_C', 'moto'));
  }
  return rows;
}

it('npm run bench -- --quick reports every scenario of every data set, on moto and null-s3, restores included', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
  try {
    const json = join(dir, 'bench.json');
    const run = await execa(
      TSX,
      ['bench/bench.ts', '--quick', '--size-gib', '0.004', '--fleet', '2', '--concurrency', '2', '--s3', 'moto,null', '--json', json],
      { cwd: ROOT, reject: false, all: true },
    );
    expect(run.exitCode, run.all).toBe(0);
    const out = JSON.parse(await readFile(json, 'utf8')) as BenchJson;

    const reported = out.rows.map((r) => `${r.section} ${r.kind} ${r.s3 ?? '-'} ${r.variant ?? '-'}`);
    expect(reported.sort()).toEqual(expectedRows().sort());
    for (const row of out.rows) expect(row.stats.wallS, `${row.section} ${row.kind}`).toBeGreaterThan(0);
    // B and C report what they stored; every data set its size.
    for (const row of out.rows.filter((r) => r.kind === 'B' || r.kind === 'C')) {
      expect(row.storedBytes, `${row.section} ${row.kind} ${row.s3 ?? ''} ${row.variant ?? ''}`).toBeGreaterThan(0);
    }
    for (const section of out.sections) expect(section.dataBytes, section.id).toBeGreaterThan(0);
    expect(out.fleet.map((f) => f.concurrency)).toEqual([2]);
    expect(out.notes).toEqual([]);

    // The printed report has the same tables.
    expect(run.stdout).toContain('Where the CPU goes');
    expect(run.stdout).toContain('Restores into an empty database');
    expect(run.stdout).toMatch(/\| R_C backup-all restore +\|/);
    expect(run.stdout).toMatch(/\| A0 pg_dump -Fc -Z0 > \/dev\/null +\|/);
    expect(run.stdout).toMatch(/\| AZ pg_dump -Fc -Z0 \\\| zstd > \/dev\/null +\|/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 30 * 60_000);
