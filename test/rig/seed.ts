/** Sample databases for the "container" servers, and fingerprints to compare a restored copy with its source. */
import { pgUrl, withPgClient, type PgInfo } from './postgres.js';
import { sqlString, type MariaHandle } from './mariadb.js';

// ---------------------------------------------------------------- PostgreSQL

export type PgSampleDb = 'shop' | 'blog' | 'inventory';

export interface PgSeedSpec {
  databases: readonly PgSampleDb[];
  /** Rows in the main table (shop.customers, blog.posts ×0.2, inventory.items); default 1000. */
  rows?: number;
}

/** What the rig seeds: container A holds shop and blog, container B inventory. */
export const PG_CONTAINER_A: PgSeedSpec = { databases: ['shop', 'blog'] };
export const PG_CONTAINER_B: PgSeedSpec = { databases: ['inventory'] };

/** A login role that owns grants in `shop` (so globals and privileges matter on restore). */
export const SHOP_ROLE = 'shop_app';

/** Some names in many scripts, quotes and an emoji included. */
const NAMES = ['Zoë', 'Łukasz', '山田 太郎', 'Дмитрий', 'Ólafur', 'Nguyễn Văn Ánh', 'Søren', 'José', "O'Brien", 'محمد', 'Renée 🙂', 'Ἀθηνᾶ'];
const pgArray = (values: string[]) => `ARRAY[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')}]`;

const PG_SAMPLES: Record<PgSampleDb, (rows: number) => string> = {
  shop: (n) => `
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${SHOP_ROLE}') THEN
        CREATE ROLE ${SHOP_ROLE} LOGIN PASSWORD 'shop-app-pw';
      END IF;
    END $$;
    CREATE SEQUENCE invoice_no_seq START 100000;
    CREATE TABLE customers (
      id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, city text, balance numeric(12,2),
      created_at timestamptz, tags text[], profile jsonb, active boolean, avatar bytea);
    INSERT INTO customers (name, email, city, balance, created_at, tags, profile, active, avatar)
    SELECT (${pgArray(NAMES)})[1 + i % ${NAMES.length}] || ' #' || i, 'c' || i || '@example.test',
           CASE WHEN i % 7 = 0 THEN NULL ELSE (ARRAY['Zürich','Kraków','東京','Reykjavík'])[1 + i % 4] END,
           round((i * 37.13) % 10000, 2), timestamptz '2024-01-01 00:00:00+00' + i * interval '17 minutes',
           ARRAY['t' || i % 5, 'vip'], jsonb_build_object('i', i, 'note', E'line1\\nline2\\t"quoted" \\\\ back'),
           i % 3 <> 0, CASE WHEN i % 10 = 0 THEN NULL ELSE decode(md5(i::text), 'hex') END
    FROM generate_series(1, ${n}) AS i;
    CREATE TABLE orders (
      id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id),
      invoice_no bigint NOT NULL DEFAULT nextval('invoice_no_seq'), amount numeric(10,2),
      placed_at timestamptz, status text CHECK (status IN ('new', 'paid', 'shipped')));
    INSERT INTO orders (customer_id, amount, placed_at, status)
    SELECT 1 + (i * 7) % ${n}, round((i * 3.7) % 500, 2), timestamptz '2024-06-01 12:00:00+00' + i * interval '1 hour',
           (ARRAY['new','paid','shipped'])[1 + i % 3]
    FROM generate_series(1, ${3 * n}) AS i;
    CREATE INDEX orders_customer_idx ON orders (customer_id);
    CREATE VIEW customer_totals AS
      SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS total
      FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${SHOP_ROLE};`,

  blog: (n) => `
    CREATE TABLE posts (
      id bigserial PRIMARY KEY, title text NOT NULL, body text, published boolean DEFAULT false,
      published_at timestamp, meta jsonb);
    INSERT INTO posts (title, body, published, published_at, meta)
    SELECT 'Post ' || i || ' — ünïcødé ✓ ' || (${pgArray(NAMES)})[1 + i % ${NAMES.length}],
           repeat(E'Lorem ipsum, a \\\\ backslash, a \\t tab, a newline\\n and ''quotes'' "too". ', 1 + i % 40),
           i % 4 <> 0, CASE WHEN i % 4 <> 0 THEN timestamp '2023-03-01 08:00' + i * interval '1 day' END,
           jsonb_build_object('words', 10 * i, 'tags', jsonb_build_array('pg', 'test'))
    FROM generate_series(1, ${Math.max(1, Math.round(n / 5))}) AS i;
    CREATE FUNCTION slugify(t text) RETURNS text LANGUAGE sql IMMUTABLE
      AS $$ SELECT trim(both '-' from lower(regexp_replace(t, '[^a-zA-Z0-9]+', '-', 'g'))) $$;
    CREATE SCHEMA archive;
    CREATE TABLE archive.old_posts (id int PRIMARY KEY, title text NOT NULL, archived_on date);
    INSERT INTO archive.old_posts SELECT i, 'Archived ' || i || ' ☃', date '2020-01-01' + i FROM generate_series(1, 50) AS i;`,

  inventory: (n) => `
    CREATE TABLE warehouses (code text PRIMARY KEY, name text NOT NULL);
    INSERT INTO warehouses VALUES ('ZRH', 'Zürich Nord'), ('KRK', 'Kraków Płaszów'), ('TYO', '東京倉庫');
    CREATE TABLE items (
      sku text PRIMARY KEY, warehouse text NOT NULL REFERENCES warehouses (code), qty integer NOT NULL,
      price numeric(8,2), attrs jsonb, updated_at timestamptz);
    INSERT INTO items
    SELECT 'SKU-' || lpad(i::text, 6, '0'), (ARRAY['ZRH','KRK','TYO'])[1 + i % 3], i % 97, round(i * 1.25, 2),
           jsonb_build_object('colour', (ARRAY['red','grün','青'])[1 + i % 3]),
           timestamptz '2024-02-29 23:59:59+00' - i * interval '1 minute'
    FROM generate_series(1, ${n}) AS i;`,
};

/** (Re)creates the spec's databases on the server and fills them; returns their names. */
export async function seedPostgresContainer(pg: PgInfo, spec: PgSeedSpec): Promise<string[]> {
  const rows = spec.rows ?? 1000;
  for (const db of spec.databases) {
    await withPgClient(pgUrl(pg, 'postgres'), async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${db}`);
    });
    await withPgClient(pgUrl(pg, db), (c) => c.query(PG_SAMPLES[db](rows)));
  }
  return [...spec.databases];
}

export interface TableFingerprint {
  /** schema.table */
  table: string;
  count: number;
  /** md5 over the rows' text forms in a fixed order; null for an empty table. */
  md5: string | null;
}

/** A server handle (its url()) plus a db name, or a database URL. */
export type PgTarget = { url(db: string): string } | string;

const targetUrl = (target: PgTarget, db?: string): string => {
  if (typeof target === 'string') return target;
  if (db === undefined) throw new Error('a database name is needed with a server handle');
  return target.url(db);
};

/** Session settings that make rows' text forms independent of server and client defaults. */
const STABLE_TEXT = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres';
  SET extra_float_digits = 1; SET bytea_output = 'hex'`;

/** Count and md5 of every user table (all schemas), sorted by name: equal for a faithful restore. */
export async function tableFingerprint(target: PgTarget, db?: string): Promise<TableFingerprint[]> {
  return withPgClient(targetUrl(target, db), async (c) => {
    await c.query(STABLE_TEXT);
    const { rows: tables } = await c.query<{ t: string }>(
      `SELECT format('%I.%I', table_schema, table_name) AS t FROM information_schema.tables
       WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    const result: TableFingerprint[] = [];
    for (const t of tables.map((r) => r.t).sort()) {
      const { rows } = await c.query<{ count: number; md5: string | null }>(
        `SELECT count(*)::int AS count, md5(string_agg(t::text, '|' ORDER BY t::text COLLATE "C")) AS md5 FROM ${t} AS t`,
      );
      result.push({ table: t, ...rows[0]! });
    }
    return result;
  });
}

/**
 * The non-table objects a dump must carry: views, sequences (with their position), indexes, functions, schemas,
 * as sorted "kind name" strings.
 */
export async function pgObjects(target: PgTarget, db?: string): Promise<string[]> {
  return withPgClient(targetUrl(target, db), async (c) => {
    const { rows } = await c.query<{ o: string }>(`
      WITH user_ns AS (SELECT oid, nspname FROM pg_namespace
                       WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%')
      SELECT 'schema ' || nspname AS o FROM user_ns
      UNION ALL SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'matview ' ELSE 'index ' END
                       || format('%I.%I', n.nspname, c.relname)
        FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm', 'i')
      UNION ALL SELECT 'sequence ' || format('%I.%I', schemaname, sequencename) || ' = ' || coalesce(last_value::text, 'unset')
        FROM pg_sequences
      UNION ALL SELECT 'function ' || p.oid::regprocedure::text
        FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace`);
    return rows.map((r) => r.o).sort();
  });
}

// ---------------------------------------------------------------- MariaDB

export const MARIA_SAMPLE_DBS = ['crm', 'wiki'] as const;

const mariaNames = NAMES.map(sqlString).join(', ');
const numbers = (n: number) => `WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n})`;

const MARIA_SAMPLE_SQL = (n: number) => `
  DROP DATABASE IF EXISTS crm;
  CREATE DATABASE crm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  USE crm;
  CREATE TABLE contacts (
    id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(200) UNIQUE, notes TEXT,
    score DECIMAL(8,2), created_at DATETIME, deals_total DECIMAL(12,2) NOT NULL DEFAULT 0, photo BLOB) ENGINE=InnoDB;
  INSERT INTO contacts (name, email, notes, score, created_at, photo)
  ${numbers(n)}
  SELECT CONCAT(ELT(1 + i % ${NAMES.length}, ${mariaNames}), ' #', i), CONCAT('c', i, '@example.test'),
         IF(i % 5 = 0, NULL, CONCAT('met at booth ', i, '\\n\\ttab, ''quote'', \\\\ backslash')),
         (i * 13.7) % 1000, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL i * 17 MINUTE, IF(i % 9 = 0, NULL, UNHEX(MD5(i)))
  FROM seq;
  CREATE TABLE deals (
    id INT AUTO_INCREMENT PRIMARY KEY, contact_id INT NOT NULL, title VARCHAR(200), amount DECIMAL(10,2) NOT NULL,
    stage ENUM('lead','won','lost') NOT NULL, closed_on DATE,
    CONSTRAINT deals_contact_fk FOREIGN KEY (contact_id) REFERENCES contacts (id)) ENGINE=InnoDB;
  CREATE TRIGGER deals_total_ai AFTER INSERT ON deals FOR EACH ROW
    UPDATE contacts SET deals_total = deals_total + NEW.amount WHERE id = NEW.contact_id;
  CREATE PROCEDURE contact_summary(IN cid INT)
    SELECT name, deals_total FROM contacts WHERE id = cid;
  CREATE FUNCTION with_vat(amount DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC RETURN amount * 1.2;
  INSERT INTO deals (contact_id, title, amount, stage, closed_on)
  ${numbers(2 * n)}
  SELECT 1 + (i * 7) % ${n}, CONCAT('Deal ', i, ' — ', ELT(1 + i % 3, 'Größe', 'サイズ', 'размер')), (i * 3.3) % 900,
         ELT(1 + i % 3, 'lead', 'won', 'lost'), IF(i % 3 = 0, NULL, DATE '2024-01-01' + INTERVAL i DAY)
  FROM seq;

  DROP DATABASE IF EXISTS wiki;
  CREATE DATABASE wiki CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  USE wiki;
  CREATE TABLE pages (id INT AUTO_INCREMENT PRIMARY KEY, slug VARCHAR(100) NOT NULL UNIQUE, title VARCHAR(200),
    body LONGTEXT) ENGINE=InnoDB;
  INSERT INTO pages (slug, title, body)
  ${numbers(Math.max(1, Math.round(n / 5)))}
  SELECT CONCAT('page-', i), CONCAT('Seite ', i, ' — ', ELT(1 + i % 3, 'Über uns', '日本語', 'Ελληνικά')),
         REPEAT('Wiki text with ünïcødé, emoji 📚, tabs\\t and newlines\\n. ', 1 + i % 50)
  FROM seq;
  CREATE TABLE revisions (id INT AUTO_INCREMENT PRIMARY KEY, page_id INT NOT NULL, rev INT NOT NULL,
    edited_at DATETIME NOT NULL, FOREIGN KEY (page_id) REFERENCES pages (id)) ENGINE=InnoDB;
  INSERT INTO revisions (page_id, rev, edited_at) SELECT id, 1, TIMESTAMP '2023-05-05 05:05:05' FROM pages;
  CREATE VIEW page_titles AS SELECT slug, title FROM pages;`;

/** (Re)creates crm and wiki with data, a trigger, a procedure, a function and a view; returns their names. */
export async function seedMariadbContainer(maria: MariaHandle, rows = 500): Promise<string[]> {
  await maria.query(MARIA_SAMPLE_SQL(rows));
  return [...MARIA_SAMPLE_DBS];
}

/** Count and md5 of every base table of a MariaDB database, sorted by name (same shape as tableFingerprint). */
export async function mariaFingerprint(maria: MariaHandle, db: string): Promise<TableFingerprint[]> {
  const columns = await maria.query(
    `SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c
     JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
     WHERE c.TABLE_SCHEMA = ${sqlString(db)} AND t.TABLE_TYPE = 'BASE TABLE'
     ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
  );
  const byTable = new Map<string, string[]>();
  for (const [table, column] of columns) byTable.set(table!, [...(byTable.get(table!) ?? []), column!]);
  if (byTable.size === 0) return [];
  const ident = (name: string) => `\`${name.replace(/`/g, '``')}\``;
  const perTable = [...byTable].map(([table, cols]) => {
    const row = `CONCAT_WS('#', ${cols.map((c) => `QUOTE(${ident(c)})`).join(', ')})`;
    return `SELECT ${sqlString(table)}, COUNT(*), MD5(GROUP_CONCAT(r ORDER BY BINARY r SEPARATOR '|'))
            FROM (SELECT ${row} AS r FROM ${ident(table)}) AS x`;
  });
  const rows = await maria.query(`SET SESSION group_concat_max_len = 1073741824;\n${perTable.join('\nUNION ALL\n')}`, db);
  return rows
    .map(([table, count, md5]) => ({ table: table!, count: Number(count), md5: md5 ?? null }))
    .sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/** Routines, triggers and views of a MariaDB database as sorted "kind name" strings. */
export async function mariaObjects(maria: MariaHandle, db: string): Promise<string[]> {
  const schema = sqlString(db);
  const rows = await maria.query(`
    SELECT CONCAT(LOWER(ROUTINE_TYPE), ' ', ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${schema}
    UNION ALL SELECT CONCAT('trigger ', TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${schema}
    UNION ALL SELECT CONCAT('view ', TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ${schema}`);
  return rows.map(([o]) => o!).sort();
}
