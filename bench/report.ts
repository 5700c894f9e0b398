/** The benchmark's figures, collected as the scenarios run, and the tables printed from them (Markdown). */
import { cpus } from 'node:os';
import type { RunStats } from './measure.js';
import type { S3Kind } from './s3-servers.js';

const MIB = 1024 * 1024;

/**
 * A0 the dump uncompressed into /dev/null (PostgreSQL: pg_dump -Fc -Z0, the machine's true limit); AZ that dump
 * through the pipeline's zstd into /dev/null (C's own processes, without node and S3: what C cannot go below); A the
 * dump as backed up, into /dev/null; B the old way (dump | aws s3 cp -); C backup-all; R_B / R_C the restores of B's
 * and C's objects into an empty database.
 */
export type Kind = 'A0' | 'AZ' | 'A' | 'B' | 'C' | 'R_B' | 'R_C';

/** One generated data set and the figures measured on it. */
export interface Section {
  id: string;
  engine: 'postgres' | 'mariadb';
  dataset: string;
  title: string;
  description: string;
  /** Bytes of the uncompressed dump (PostgreSQL: pg_dump -Fc -Z0; MariaDB: the SQL): MiB/s is computed on these. */
  dataBytes: number;
  generatedS: number;
}

export interface Row {
  section: string;
  kind: Kind;
  label: string;
  /** The S3 server of B, C and R_*. */
  s3?: S3Kind;
  /** C's variant (MariaDB: the compression). */
  variant?: string;
  stats: RunStats;
  /** Bytes the scenario stored in S3 (median over the runs). */
  storedBytes?: number;
  /** Which process the peak RSS figure is of (the uploader's label in stats.procs, and its name). */
  rss?: { proc: string; name: string };
  /** CPU split: labels of the dump's processes (the dump, and a compressor after it) and the uploader's in stats.procs. */
  dumpProcs?: string[];
  uploaderProc?: string;
  /** The uploader's figures include the dump's (node waits for it): its own CPU comes from its --json result. */
  uploaderIncludesDump?: boolean;
}

export interface FleetRow {
  concurrency: number;
  dumpsS: number;
  toolS: number;
  overheadMs: number;
  slotOverheadMs: number;
  /** The dumps only again, with PostgreSQL's programs started without Debian's pg_wrapper, as the tool starts them. */
  directDumpsS: number;
  directOverheadMs: number;
  rssMiB: number;
}

export interface SweepRow {
  partMiB: number;
  queue: number;
  stats: RunStats;
  dataBytes: number;
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const mib = (bytes: number) => `${f1(bytes / MIB)} MiB`;
const heading = (s: Section) => `**${s.title}**`;

/** A Markdown table: the first column left-aligned, the others right-aligned; '|' in a cell escaped. */
export function table(header: string[], cells: string[][]): string {
  const rows = cells.map((r) => r.map((c) => c.replace(/\|/g, '\\|')));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

export class Report {
  readonly sections: Section[] = [];
  readonly rows: Row[] = [];
  readonly fleet: FleetRow[] = [];
  readonly sweep: SweepRow[] = [];
  /** Why some scenarios were not run (e.g. restores without an S3 server that keeps data). */
  readonly notes: string[] = [];

  constructor(
    /** The S3 server of the fleet and the sweep. */
    private readonly fleetS3: string,
    private readonly fleetSize: number,
  ) {}

  section(s: Omit<Section, 'id'>): Section {
    const section = { ...s, id: `${s.engine}/${s.dataset}` };
    this.sections.push(section);
    return section;
  }

  add(section: Section, row: Omit<Row, 'section'>): void {
    this.rows.push({ section: section.id, ...row });
  }

  render(): string {
    const parts = [
      this.sections.length ? this.backupTables() : '',
      this.restoreTable(),
      this.notes.map((n) => `Note: ${n}`).join('\n'),
      this.fleetTable(),
      this.sweepTable(),
    ];
    return parts.filter(Boolean).join('\n\n');
  }

  private backupRows(s: Section): Row[] {
    return this.rows.filter((r) => r.section === s.id && !r.kind.startsWith('R'));
  }

  /** The data sets, then the backups (A0, A, B, C) with their ratios, then where their CPU went. */
  private backupTables(): string {
    const out: string[] = ['Data sets:'];
    for (const s of this.sections) {
      const size = s.engine === 'postgres' ? 'pg_dump -Fc -Z0' : 'SQL';
      out.push(`- ${s.title}: ${s.description}; ${mib(s.dataBytes)} of ${size} (generated in ${f1(s.generatedS)} s)`);
    }
    out.push('');
    out.push(
      'Backups, medians. MiB/s of the uncompressed dump (pg_dump -Fc -Z0, or the SQL); C/B against B on the same S3 server;\n' +
        'Stored: the bytes in S3, and their share of the uncompressed dump.',
    );
    const main: string[][] = [];
    for (const s of this.sections) {
      const rows = this.backupRows(s);
      if (!rows.length) continue;
      main.push([heading(s), '', '', '', '', '', '', '', '', '']);
      const a0 = rows.find((r) => r.kind === 'A0');
      const az = rows.find((r) => r.kind === 'AZ');
      const a = rows.find((r) => r.kind === 'A');
      for (const r of rows) {
        const isC = r.kind === 'C';
        const b = rows.find((x) => x.kind === 'B' && x.s3 === r.s3);
        main.push([
          r.label,
          r.s3 ?? '',
          f1(r.stats.wallS),
          f1(s.dataBytes / MIB / r.stats.wallS),
          this.rss(r),
          isC && a0 ? f2(r.stats.wallS / a0.stats.wallS) : '',
          isC && az ? f2(r.stats.wallS / az.stats.wallS) : '',
          isC && a ? f2(r.stats.wallS / a.stats.wallS) : '',
          isC && b ? f2(r.stats.wallS / b.stats.wallS) : '',
          r.storedBytes !== undefined ? `${mib(r.storedBytes)} (${((100 * r.storedBytes) / s.dataBytes).toFixed(0)}%)` : '',
        ]);
      }
    }
    out.push(table(['Scenario', 'S3', 'Wall s', 'MiB/s', 'Peak RSS MiB', 'C/A0', 'C/AZ', 'C/A', 'C/B', 'Stored'], main));

    out.push('');
    out.push(`Where the CPU goes (CPU seconds; the machine has ${cpus().length} cores, so at most ${cpus().length} × wall):`);
    const cpu: string[][] = [];
    for (const s of this.sections) {
      const rows = this.backupRows(s);
      if (!rows.length) continue;
      cpu.push([heading(s), '', '', '', '', '', '']);
      const a = rows.find((r) => r.kind === 'A');
      for (const r of rows) {
        let dumpCpu = r.dumpProcs ? r.dumpProcs.reduce((sum, p) => sum + (r.stats.procs[p]?.cpuS ?? 0), 0) : (a?.stats.procs.dump?.cpuS ?? 0);
        let uploaderCpu = r.uploaderProc ? (r.stats.procs[r.uploaderProc]?.cpuS ?? 0) : 0;
        if (r.uploaderIncludesDump && r.stats.toolSelfCpuS !== undefined) {
          // node's rusage includes its children (the dump, zstd); its own figure comes from its --json result.
          dumpCpu = uploaderCpu - r.stats.toolSelfCpuS;
          uploaderCpu = r.stats.toolSelfCpuS;
        } else if (r.uploaderIncludesDump) uploaderCpu -= dumpCpu;
        const other = r.stats.machineCpuS - dumpCpu - uploaderCpu - r.stats.serverCpuS;
        cpu.push([r.label, r.s3 ?? '', f1(r.stats.wallS), f1(dumpCpu), r.uploaderProc ? f1(uploaderCpu) : '', r.s3 ? f1(r.stats.serverCpuS) : '', f1(other)]);
      }
    }
    out.push(table(['Scenario', 'S3', 'Wall s', 'Dump', 'Uploader', 'S3 server', 'DB server + rest'], cpu));
    out.push(
      "(C: 'Uploader' is node's own CPU (from its --json result), 'Dump' its children: the dump, and zstd when it compresses.\n" +
        " AZ: 'Dump' is the dump and zstd.)",
    );
    return out.join('\n');
  }

  /** R_B and R_C of every data set, with R_C/R_B. */
  private restoreTable(): string {
    const restores: string[][] = [];
    for (const s of this.sections) {
      const rows = this.rows.filter((r) => r.section === s.id && r.kind.startsWith('R'));
      if (!rows.length) continue;
      restores.push([heading(s), '', '', '', '', '', '', '']);
      const rb = rows.find((r) => r.kind === 'R_B');
      for (const r of rows) {
        const clients = Object.values(r.stats.procs).reduce((sum, p) => sum + p.cpuS, 0);
        const other = r.stats.machineCpuS - clients - r.stats.serverCpuS;
        restores.push([
          r.label,
          f1(r.stats.wallS),
          f1(s.dataBytes / MIB / r.stats.wallS),
          this.rss(r),
          f1(clients),
          f1(r.stats.serverCpuS),
          f1(other),
          r.kind === 'R_C' && rb ? f2(r.stats.wallS / rb.stats.wallS) : '',
        ]);
      }
    }
    if (!restores.length) return '';
    return [
      'Restores into an empty database, from the objects B and C stored on moto (null-s3 keeps no data, so restores run on moto only); medians:',
      table(['Scenario', 'Wall s', 'MiB/s', 'Peak RSS MiB', 'Clients CPU s', 'S3 server CPU s', 'DB server + rest', 'R_C/R_B'], restores),
      "(MiB/s of uncompressed dump. Clients: R_B's aws and loader together, R_C's node with its children (the loader, zstd);\n" +
        ' R_C checks every object against its SHA-256 from the manifest, as it does by default.)',
    ].join('\n');
  }

  private fleetTable(): string {
    if (!this.fleet.length) return '';
    return [
      `Fleet: ${this.fleetSize} small PostgreSQL containers (globals + one small database each, 2 objects); S3: ${this.fleetS3}`,
      table(
        ['--concurrency', 'Dumps only, s', 'backup-all, s', 'Overhead per backup, ms', '… within its slot, ms', 'Dumps only, direct, s', 'Overhead vs direct, ms', 'Peak RSS MiB'],
        this.fleet.map((r) => [
          String(r.concurrency),
          f2(r.dumpsS),
          f2(r.toolS),
          r.overheadMs.toFixed(0),
          r.slotOverheadMs.toFixed(0),
          f2(r.directDumpsS),
          r.directOverheadMs.toFixed(0),
          f1(r.rssMiB),
        ]),
      ),
      '(Dumps only: the same pg_dumpall --globals-only + pg_dump -Fc -Z0 | zstd per container, run by xargs -P concurrency. Overhead per backup =\n' +
        ' the median over the rounds of (backup-all − dumps only, run back to back) / containers: node start, admin DB rows and locks,\n' +
        ' the database listing, S3 requests.\n' +
        ' Within its slot = that × concurrency: how much longer each backup takes than its dumps.\n' +
        ' Direct: the dumps only with pg_dumpall and pg_dump started as the tool starts them, without Debian\'s pg_wrapper\n' +
        ' (src/pipeline/pg-wrapper.ts), where a shell goes through it; the overhead against that, the same way.)',
    ].join('\n');
  }

  private sweepTable(): string {
    if (!this.sweep.length) return '';
    return [
      `Sweep: MariaDB, compression none, BACKUP_S3_PART_SIZE_MIB × BACKUP_S3_QUEUE_SIZE; S3: ${this.fleetS3}`,
      table(
        ['Part MiB', 'Queue', 'Wall s', 'MiB/s', 'Peak RSS MiB', 'S3 server CPU s'],
        this.sweep.map((r) => [
          String(r.partMiB),
          String(r.queue),
          f1(r.stats.wallS),
          f1(r.dataBytes / MIB / r.stats.wallS),
          f1(r.stats.procs.tool?.maxRssMiB ?? 0),
          f1(r.stats.serverCpuS),
        ]),
      ),
    ].join('\n');
  }

  private rss(r: Row): string {
    return r.rss ? `${f1(r.stats.procs[r.rss.proc]?.maxRssMiB ?? 0)} (${r.rss.name})` : '';
  }

  /** Every figure, for --json. */
  json(): object {
    const rows = this.rows.map((r) => ({ ...r, stats: { ...r.stats, stdout: undefined } }));
    const sweep = this.sweep.map((r) => ({ ...r, stats: { ...r.stats, stdout: undefined } }));
    return { sections: this.sections, rows, fleet: this.fleet, sweep, notes: this.notes };
  }
}
