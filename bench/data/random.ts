/**
 * Today's generated data, kept so that figures stay comparable with the earlier ones in BENCHMARKS.md.
 *
 * PostgreSQL (`random`): one table of random base64 text lines (COPY from /dev/urandom | base64), which pg_dump -Fc's
 * zlib cannot shrink: its dump is ~1.02 × the random bytes, so the size is easy to aim at. A calibration sample is
 * loaded and dumped first, and the rest sized from it.
 *
 * MariaDB (`events`): one table shaped like application data (dates, e-mail addresses, amounts, a text column of
 * common words in random order, a hex token of random bytes): gzip takes it to ~45%.
 *
 * Neither is deterministic (random bytes); app.ts and pgbench.ts are.
 */
import { withPgClient, type PgHandle, type MariaHandle } from '../../test/rig/index.js';
import { sh } from '../measure.js';
import { bash, MIB, pgEnv, recreatePgDatabase, type Generated } from './common.js';

/** (Re)creates `db` on the server with a table whose pg_dump -Fc is about `dumpBytes` long. */
export async function generateRandomPostgres(pg: PgHandle, db: string, dumpBytes: number): Promise<Generated> {
  const started = Date.now();
  await recreatePgDatabase(pg, db);
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
  return { description: 'one table of base64-encoded random bytes (compresses only to the bytes themselves, 3/4)', seconds: (Date.now() - started) / 1000 };
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
export async function generateMariadbEvents(maria: MariaHandle, db: string, dumpBytes: number): Promise<Generated> {
  const started = Date.now();
  await maria.query(`DROP DATABASE IF EXISTS \`${db}\`; CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4;`);
  await maria.query(
    `CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME NOT NULL, account VARCHAR(64) NOT NULL,
       kind VARCHAR(16) NOT NULL, amount DECIMAL(12,2), note TEXT, token VARCHAR(400)) ENGINE=InnoDB;`,
    db,
  );
  // About a quarter of the rows (~700 bytes each) for small sizes, so a smoke run stays small; at most 20,000.
  const sampleRows = Math.min(20_000, Math.max(1000, Math.round(dumpBytes / 2800)));
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
  return { description: 'one events table: dates, e-mail addresses, amounts, words, random hex tokens', seconds: (Date.now() - started) / 1000 };
}
