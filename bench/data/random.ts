/**
 * Generated databases of a given dump size.
 *
 * PostgreSQL: one table of random base64 text lines (COPY from /dev/urandom | base64), which pg_dump -Fc's zlib
 * cannot shrink: its dump is ~1.02 × the random bytes, so the size is easy to aim at. A calibration sample is loaded
 * and dumped first, and the rest sized from it.
 *
 * MariaDB: one table shaped like application data (dates, e-mail addresses, amounts, a text column of common words
 * in random order, a hex token of random bytes), so the compression figures mean something: gzip takes it to ~45%.
 */
import { execa } from 'execa';
import { withPgClient, type PgHandle, type MariaHandle } from '../test/rig/index.js';
import { sh } from './measure.js';

const MIB = 1024 * 1024;

export interface Generated {
  /** Bytes of the dump as measured on the sample and extrapolated (the backups report the real size). */
  estimatedDumpBytes: number;
  seconds: number;
}

function pgEnv(pg: PgHandle): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: pg.adminUser,
    PGPASSWORD: pg.adminPassword,
  };
}

async function bash(script: string, env: Record<string, string>): Promise<string> {
  const result = await execa('bash', ['-c', `set -euo pipefail\n${script}`], { env, extendEnv: false, reject: false });
  if (result.exitCode !== 0) throw new Error(`data generation failed: ${script}\n${result.stderr}`);
  return result.stdout;
}

/** (Re)creates `db` on the server with a table whose pg_dump -Fc is about `dumpBytes` long. */
export async function generatePostgres(pg: PgHandle, db: string, dumpBytes: number): Promise<Generated> {
  const started = Date.now();
  await withPgClient(pg.url('postgres'), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${c.escapeIdentifier(db)}`);
  });
  await withPgClient(pg.url(db), (c) => c.query('CREATE TABLE blobs (id bigserial PRIMARY KEY, payload text NOT NULL)'));
  const env = pgEnv(pg);
  // 750 random bytes → one 1000-character base64 line → one row. Only [A-Za-z0-9+/]: nothing COPY would unescape.
  const load = (randomBytes: number) =>
    bash(
      `head -c ${Math.round(randomBytes)} /dev/urandom | base64 -w 1000 | ` +
        `psql -X -q -v ON_ERROR_STOP=1 -d ${sh(db)} -c '\\copy blobs(payload) FROM STDIN'`,
      env,
    );
  const sample = Math.max(MIB, Math.min(64 * MIB, dumpBytes / 8));
  await load(sample);
  const sampleDump = Number((await bash(`pg_dump -Fc -d ${sh(db)} | wc -c`, env)).trim());
  const dumpPerRandomByte = sampleDump / sample;
  // Loaded in pieces of ≤ 1 GiB: one COPY per piece keeps each transaction (and its WAL) moderate.
  let remaining = dumpBytes / dumpPerRandomByte - sample;
  while (remaining > MIB) {
    const piece = Math.min(remaining, 1024 * MIB);
    await load(piece);
    remaining -= piece;
  }
  await withPgClient(pg.url(db), (c) => c.query('VACUUM ANALYZE blobs'));
  return { estimatedDumpBytes: Math.round(dumpBytes), seconds: (Date.now() - started) / 1000 };
}

const WORDS = ['order', 'shipped', 'customer', 'invoice', 'payment', 'pending', 'refund', 'warehouse', 'delivery', 'address',
  'account', 'the', 'a', 'to', 'of', 'and', 'for', 'with', 'on', 'status'];
const NOTE = `CONCAT_WS(' ', ${Array.from({ length: 40 }, () => `ELT(1 + FLOOR(RAND() * ${WORDS.length}), ${WORDS.map((w) => `'${w}'`).join(', ')})`).join(', ')})`;
const insertRows = (rows: number) => `
  INSERT INTO events (created_at, account, kind, amount, note, token)
  SELECT TIMESTAMP '2024-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 31536000) SECOND,
         CONCAT('user', FLOOR(RAND() * 100000), '@example.com'),
         ELT(1 + FLOOR(RAND() * 4), 'login', 'purchase', 'refund', 'logout'),
         ROUND(RAND() * 10000, 2), ${NOTE}, HEX(RANDOM_BYTES(192))
  FROM seq_1_to_${rows};`;

/** (Re)creates `db` on the MariaDB server with a table whose share of the SQL dump is about `dumpBytes`. */
export async function generateMariadb(maria: MariaHandle, db: string, dumpBytes: number): Promise<Generated> {
  const started = Date.now();
  await maria.query(`DROP DATABASE IF EXISTS \`${db}\`; CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4;`);
  await maria.query(
    `CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME NOT NULL, account VARCHAR(64) NOT NULL,
       kind VARCHAR(16) NOT NULL, amount DECIMAL(12,2), note TEXT, token VARCHAR(400)) ENGINE=InnoDB;`,
    db,
  );
  const sampleRows = 20_000;
  await maria.query(insertRows(sampleRows), db);
  const [[avg] = []] = await maria.query(
    `SELECT AVG(LENGTH(account) + LENGTH(note) + LENGTH(token) + LENGTH(kind) + 60) FROM events`,
    db,
  );
  // The SQL of one row: its text plus quoting and separators (~60 bytes: id, date, amount, quotes, commas).
  const bytesPerRow = Number(avg);
  let remaining = Math.round(dumpBytes / bytesPerRow) - sampleRows;
  while (remaining > 0) {
    const batch = Math.min(remaining, 100_000);
    await maria.query(insertRows(batch), db);
    remaining -= batch;
  }
  await maria.query('ANALYZE TABLE events', db);
  return { estimatedDumpBytes: Math.round(dumpBytes), seconds: (Date.now() - started) / 1000 };
}
