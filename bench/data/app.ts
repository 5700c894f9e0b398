/**
 * Application-shaped data, the same in PostgreSQL and MariaDB: an online shop's customers, products, orders, their
 * line items and an event log. Integers, timestamps, numeric amounts, short text (status, currency, e-mail
 * addresses), long text (a note of common words), md5 tokens, JSON documents, secondary indexes and a foreign key:
 * it compresses the way real tables do, unlike the random table of random.ts.
 *
 * Generated inside the database server (generate_series / MariaDB's sequence engine), so it is fast, and
 * deterministic: every value is derived from SHA-256 and MD5 of the row's number, never from random(), so two runs
 * (and the two engines) produce the same rows. Sized by calibration: a sample of orders is generated and dumped,
 * and the rest follow from its bytes per order.
 *
 * Per order: ~2 line items, half an event, a tenth of a customer and a thousandth of a product; the orders table
 * holds most of the bytes (~230 bytes per row uncompressed: 3 million orders are ~680 MB of pg_dump -Fc -Z0).
 */
import { withPgClient, type MariaHandle, type PgHandle } from '../../test/rig/index.js';
import { mariaDumpBytes, pgDumpBytes, recreatePgDatabase, type Generated } from './common.js';

/** The largest calibration sample, in orders. */
const SAMPLE_ORDERS = 20_000;
const BATCH_ORDERS = 200_000;

// ---------------------------------------------------------------------------------------------- vocabulary

/** 128 words (a byte modulo 128 picks one evenly) for notes, titles and tags. */
const WORDS = [
  'the', 'a', 'to', 'of', 'and', 'for', 'with', 'on', 'in', 'at', 'by', 'from', 'is', 'was', 'be', 'not',
  'please', 'thanks', 'again', 'today', 'tomorrow', 'before', 'after', 'only', 'also', 'very', 'more', 'less', 'new', 'old', 'same', 'other',
  'order', 'shipped', 'customer', 'invoice', 'payment', 'pending', 'refund', 'warehouse', 'delivery', 'address', 'account', 'status', 'parcel', 'courier', 'tracking', 'number',
  'door', 'leave', 'neighbour', 'call', 'email', 'phone', 'gift', 'wrap', 'card', 'message', 'birthday', 'present', 'fragile', 'handle', 'care', 'box',
  'small', 'large', 'blue', 'red', 'green', 'black', 'white', 'cotton', 'leather', 'wooden', 'steel', 'glass', 'paper', 'size', 'colour', 'model',
  'discount', 'coupon', 'voucher', 'code', 'applied', 'missing', 'damaged', 'replaced', 'returned', 'exchange', 'wrong', 'item', 'items', 'two', 'three', 'one',
  'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'morning', 'evening', 'week', 'office', 'home', 'floor', 'building', 'street', 'city',
  'confirmed', 'cancelled', 'delayed', 'express', 'standard', 'priority', 'signature', 'required', 'contact', 'support', 'asked', 'about', 'when', 'arrives', 'soon', 'late',
];
const FIRST = ['Emma', 'Liam', 'Olivia', 'Noah', 'Ava', 'Lucas', 'Mia', 'Leon', 'Sofia', 'Elias', 'Hanna', 'Jonas', 'Lea', 'Paul', 'Clara', 'Felix',
  'Marie', 'Max', 'Lena', 'Ben', 'Anna', 'Finn', 'Laura', 'Tom', 'Julia', 'Jan', 'Sara', 'David', 'Nina', 'Luca', 'Eva', 'Adam'];
const LAST = ['Schmidt', 'Smith', 'Müller', 'Jones', 'Meyer', 'Brown', 'Weber', 'Garcia', 'Wagner', 'Martin', 'Becker', 'Rossi', 'Hoffmann', 'Dubois', 'Koch', 'Novak',
  'Richter', 'Jansen', 'Klein', 'Nielsen', 'Wolf', 'Silva', 'Neumann', 'Kowalski', 'Schulz', 'Berg', 'Lang', 'Costa', 'Fischer', 'Horvat', 'Walter', 'Moreau'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example', 'shop.example', 'post.example', 'web.example', 'inbox.example'];
/** Weighted: most orders are delivered. */
const STATUSES = [...Array<string>(12).fill('delivered'), 'shipped', 'shipped', 'shipped', 'paid', 'paid', 'new', 'cancelled', 'refunded'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'USD', 'GBP', 'CHF', 'SEK'];
const COUNTRIES = ['DE', 'DE', 'FR', 'NL', 'AT', 'CH', 'IT', 'ES', 'PL', 'SE', 'DK', 'BE', 'GB', 'US', 'CZ', 'PT'];
const TIERS = ['basic', 'basic', 'basic', 'silver', 'silver', 'gold', 'platinum', 'staff'];
const LOCALES = ['de-DE', 'en-GB', 'fr-FR', 'nl-NL', 'it-IT', 'es-ES', 'pl-PL', 'sv-SE'];
const COLORS = ['black', 'white', 'red', 'blue', 'green', 'grey', 'navy', 'beige'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', 'XXL', 'one size', '42'];
const EVENT_KINDS = ['page_view', 'page_view', 'cart_add', 'checkout', 'payment', 'email_sent', 'shipment_update', 'review'];
const AGENTS = ['Mozilla/5.0 (Windows NT 10.0; Win64; x64)', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1)', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)',
  'Mozilla/5.0 (Linux; Android 14)', 'Mozilla/5.0 (X11; Linux x86_64)', 'shop-app/4.2 (iOS)', 'shop-app/4.2 (Android)', 'curl/8.4.0'];
const REFERRERS = ['direct', 'search', 'newsletter', 'social', 'partner', 'ads', 'direct', 'search'];

// ---------------------------------------------------------------------------------------------- the two dialects

/** The few expressions the engines spell differently; everything else in the SQL below is common to both. */
interface Dialect {
  /** A 32-byte hash of concat(row number, tag), as a column of the row source. */
  hash(row: string, tag: string): string;
  /** Byte k (0–31) of a hash column, 0–255. */
  byte(hash: string, k: number): string;
  /** list[index mod length], as a string expression. */
  pick(list: readonly string[], index: string): string;
  /** A timestamp `seconds` after `base` (UTC). */
  at(base: string, seconds: string): string;
  /** Integer division. */
  div(a: string, b: number): string;
  /** Rows lo..hi as a table `alias` with a column `seq`, materialised once (the hashes are not computed twice). */
  rows(columns: string, lo: number, hi: number): string;
  /** A 3-row table (seq 1..3) named `alias`. */
  upTo3(alias: string): string;
  json(pairs: [string, string][]): string;
  jsonArray(items: string[]): string;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const pairs = (entries: [string, string][]) => entries.flatMap(([k, v]) => [quote(k), v]).join(', ');

const postgresDialect: Dialect = {
  hash: (row, tag) => `sha256(convert_to(concat(${row}, ':${tag}'), 'UTF8'))`,
  byte: (hash, k) => `get_byte(${hash}, ${k})`,
  pick: (list, index) => `(ARRAY[${list.map(quote).join(', ')}])[1 + (${index}) % ${list.length}]`,
  at: (base, seconds) => `(timestamptz '${base}+00' + (${seconds}) * interval '1 second')`,
  div: (a, b) => `(${a}) / ${b}`,
  // OFFSET 0 keeps the planner from inlining the subquery, which would compute each hash once per use.
  rows: (columns, lo, hi) => `(SELECT seq, ${columns} FROM generate_series(${lo}::bigint, ${hi}::bigint) AS seq OFFSET 0) AS s`,
  upTo3: (alias) => `generate_series(1, 3) AS ${alias}(seq)`,
  json: (entries) => `jsonb_build_object(${pairs(entries)})`,
  jsonArray: (items) => `jsonb_build_array(${items.join(', ')})`,
};

const mariadbDialect: Dialect = {
  hash: (row, tag) => `UNHEX(SHA2(CONCAT(${row}, ':${tag}'), 256))`,
  byte: (hash, k) => `ORD(SUBSTRING(${hash}, ${k + 1}, 1))`,
  pick: (list, index) => `ELT(1 + (${index}) % ${list.length}, ${list.map(quote).join(', ')})`,
  at: (base, seconds) => `(TIMESTAMP '${base}' + INTERVAL (${seconds}) SECOND)`,
  div: (a, b) => `(${a}) DIV ${b}`,
  // The LIMIT keeps MariaDB from merging the derived table into the query (which would compute each hash once per use).
  rows: (columns, lo, hi) => `(SELECT seq, ${columns} FROM seq_${lo}_to_${hi} LIMIT ${hi - lo + 1}) AS s`,
  upTo3: (alias) => `seq_1_to_3 AS ${alias}`,
  json: (entries) => `JSON_OBJECT(${pairs(entries)})`,
  jsonArray: (items) => `JSON_ARRAY(${items.join(', ')})`,
};

// ---------------------------------------------------------------------------------------------- the rows

/** A two-byte number 0–65535 from bytes k and k+1. */
const word16 = (d: Dialect, hash: string, k: number) => `(${d.byte(hash, k)} * 256 + ${d.byte(hash, k + 1)})`;
const email = (d: Dialect, h: string, k: number) =>
  `lower(concat(${d.pick(FIRST, d.byte(h, k))}, '.', ${d.pick(LAST, d.byte(h, k + 1))}, ${d.byte(h, k + 2)} % 100, '@', ${d.pick(DOMAINS, d.byte(h, k + 3))}))`;

/** 6 to 31 words: word k from byte k of the second hash, the count from the first. */
function note(d: Dialect): string {
  const count = `(6 + ${d.byte('h', 20)} % 26)`;
  const words = Array.from({ length: 32 }, (_, k) => `CASE WHEN ${k} < ${count} THEN ${d.pick(WORDS, d.byte('w', k))} END`);
  return `concat_ws(' ', ${words.join(', ')})`;
}

function insertCustomers(d: Dialect, lo: number, hi: number): string {
  return `INSERT INTO customers (id, email, full_name, country, created_at, profile)
  SELECT seq, ${email(d, 'h', 5)}, concat(${d.pick(FIRST, d.byte('h', 5))}, ' ', ${d.pick(LAST, d.byte('h', 6))}),
         ${d.pick(COUNTRIES, d.byte('h', 9))}, ${d.at('2019-01-01 00:00:00', `seq * 600 + ${d.byte('h', 10)}`)},
         ${d.json([
           ['tier', d.pick(TIERS, d.byte('h', 0))],
           ['newsletter', `${d.byte('h', 1)} % 2`],
           ['tags', d.jsonArray([d.pick(WORDS, d.byte('h', 2)), d.pick(WORDS, d.byte('h', 3))])],
           ['locale', d.pick(LOCALES, d.byte('h', 4))],
         ])}
  FROM ${d.rows(`${d.hash('seq', 'c')} AS h`, lo, hi)}`;
}

function insertProducts(d: Dialect, lo: number, hi: number): string {
  return `INSERT INTO products (id, sku, title, price, attributes)
  SELECT seq, concat('SKU-', lpad(concat(seq), 7, '0')),
         concat_ws(' ', ${d.pick(COLORS, d.byte('h', 5))}, ${d.pick(WORDS, d.byte('h', 1))}, ${d.pick(WORDS, d.byte('h', 2))}),
         ${word16(d, 'h', 3)} % 50000 / 100.0 + 0.99,
         ${d.json([
           ['color', d.pick(COLORS, d.byte('h', 5))],
           ['size', d.pick(SIZES, d.byte('h', 6))],
           ['weight_g', `50 + ${word16(d, 'h', 7)} % 5000`],
         ])}
  FROM ${d.rows(`${d.hash('seq', 'p')} AS h`, lo, hi)}`;
}

const orderHashes = (d: Dialect) => `${d.hash('seq', 'o')} AS h, ${d.hash('seq', 'n')} AS w`;

function insertOrders(d: Dialect, lo: number, hi: number): string {
  return `INSERT INTO orders (id, customer_id, created_at, status, email, amount, currency, token, note)
  SELECT seq, 1 + (${d.byte('h', 0)} * 65536 + ${word16(d, 'h', 1)}) % (1 + ${d.div('seq', 10)}),
         ${d.at('2021-01-01 00:00:00', `seq * 8 + ${d.byte('h', 3)} % 8`)},
         ${d.pick(STATUSES, d.byte('h', 4))}, ${email(d, 'h', 5)},
         ${word16(d, 'h', 9)} % 50000 / 100.0 + 1, ${d.pick(CURRENCIES, d.byte('h', 11))},
         md5(concat(seq, ':t')), ${note(d)}
  FROM ${d.rows(orderHashes(d), lo, hi)}`;
}

function insertOrderItems(d: Dialect, lo: number, hi: number): string {
  return `INSERT INTO order_items (order_id, line, product_id, quantity, unit_price)
  SELECT s.seq, l.seq, 1 + (${word16(d, 'h', 13)} + l.seq * 7919) % (1 + ${d.div('s.seq', 1000)}),
         1 + (${d.byte('h', 15)} + l.seq) % 5, (${word16(d, 'h', 16)} + l.seq * 311) % 20000 / 100.0 + 0.5
  FROM ${d.rows(`${d.hash('seq', 'o')} AS h`, lo, hi)} JOIN ${d.upTo3('l')} ON l.seq <= 1 + ${d.byte('h', 12)} % 3`;
}

function insertOrderEvents(d: Dialect, lo: number, hi: number): string {
  return `INSERT INTO order_events (id, order_id, at, kind, payload)
  SELECT ${d.div('seq', 2)}, seq, ${d.at('2021-01-01 00:00:00', `seq * 8 + ${d.byte('h', 3)} % 8 + ${word16(d, 'h', 21)} % 7200`)},
         ${d.pick(EVENT_KINDS, d.byte('h', 18))},
         ${d.json([
           ['ip', `concat('10.', ${d.byte('h', 23)}, '.', ${d.byte('h', 24)}, '.', ${d.byte('h', 25)})`],
           ['agent', d.pick(AGENTS, d.byte('h', 19))],
           ['session', `substr(md5(concat(seq, ':s')), 1, 16)`],
           ['step', `${d.byte('h', 22)} % 5`],
           ['referrer', d.pick(REFERRERS, d.byte('h', 26))],
         ])}
  FROM ${d.rows(`${d.hash('seq', 'o')} AS h`, lo, hi)} WHERE seq % 2 = 0`;
}

/** The statements that add orders lo..hi, with the customers, products and events that come with them. */
function insertBatch(d: Dialect, lo: number, hi: number): string[] {
  const statements = [insertOrders(d, lo, hi), insertOrderItems(d, lo, hi), insertOrderEvents(d, lo, hi)];
  // Customer c comes with order 10c, product p with order 1000p.
  const per = (n: number, make: (d: Dialect, lo: number, hi: number) => string) => {
    const first = Math.ceil(lo / n);
    const last = Math.floor(hi / n);
    if (first <= last) statements.unshift(make(d, first, last));
  };
  per(1000, insertProducts);
  per(10, insertCustomers);
  return statements;
}

/**
 * Loads a sample of orders, measures its dump, then loads the orders that make up `bytes`. The sample is a quarter
 * of the estimate (~400 bytes per order) for small sizes, so a smoke run stays small.
 */
async function generate(load: (lo: number, hi: number) => Promise<void>, measure: () => Promise<number>, bytes: number): Promise<number> {
  const sample = Math.min(SAMPLE_ORDERS, Math.max(1000, Math.round(bytes / 1600)));
  await load(1, sample);
  const orders = Math.max(sample, Math.round((bytes * sample) / (await measure())));
  for (let lo = sample + 1; lo <= orders; lo += BATCH_ORDERS) await load(lo, Math.min(orders, lo + BATCH_ORDERS - 1));
  return orders;
}

const description = (orders: number) =>
  `an online shop: ${orders.toLocaleString('en')} orders with their line items, events (JSON), customers and products; ` +
  'timestamps, amounts, e-mail addresses, md5 tokens, notes of words, two indexes and a foreign key';

// ---------------------------------------------------------------------------------------------- PostgreSQL

const PG_TABLES = `
  CREATE TABLE customers (id bigint NOT NULL, email text NOT NULL, full_name text NOT NULL, country char(2) NOT NULL,
    created_at timestamptz NOT NULL, profile jsonb NOT NULL);
  CREATE TABLE products (id bigint NOT NULL, sku text NOT NULL, title text NOT NULL, price numeric(10,2) NOT NULL,
    attributes jsonb NOT NULL);
  CREATE TABLE orders (id bigint NOT NULL, customer_id bigint NOT NULL, created_at timestamptz NOT NULL, status text NOT NULL,
    email text NOT NULL, amount numeric(12,2) NOT NULL, currency char(3) NOT NULL, token char(32) NOT NULL, note text);
  CREATE TABLE order_items (order_id bigint NOT NULL, line smallint NOT NULL, product_id bigint NOT NULL,
    quantity integer NOT NULL, unit_price numeric(10,2) NOT NULL);
  CREATE TABLE order_events (id bigint NOT NULL, order_id bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL,
    payload jsonb NOT NULL);`;

/** Keys and indexes after the load (faster than maintaining them row by row); pg_restore builds them the same way. */
const PG_KEYS = `
  ALTER TABLE customers ADD PRIMARY KEY (id);
  ALTER TABLE products ADD PRIMARY KEY (id);
  ALTER TABLE orders ADD PRIMARY KEY (id);
  ALTER TABLE order_items ADD PRIMARY KEY (order_id, line);
  ALTER TABLE order_events ADD PRIMARY KEY (id);
  CREATE INDEX orders_customer_id_idx ON orders (customer_id);
  CREATE INDEX orders_created_at_idx ON orders (created_at);
  ALTER TABLE order_items ADD CONSTRAINT order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id);`;

/** (Re)creates `db` with the shop, about `bytes` of pg_dump -Fc -Z0. */
export async function generateAppPostgres(pg: PgHandle, db: string, bytes: number): Promise<Generated> {
  const started = Date.now();
  await recreatePgDatabase(pg, db);
  const orders = await withPgClient(pg.url(db), async (c) => {
    await c.query(PG_TABLES);
    const count = await generate(
      async (lo, hi) => {
        for (const sql of insertBatch(postgresDialect, lo, hi)) await c.query(sql);
      },
      () => pgDumpBytes(pg, db, ['-Z0']),
      bytes,
    );
    await c.query(PG_KEYS);
    await c.query('VACUUM ANALYZE');
    return count;
  });
  return { description: description(orders), seconds: (Date.now() - started) / 1000 };
}

// ---------------------------------------------------------------------------------------------- MariaDB

const MARIADB_TABLES = `
  CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(255) NOT NULL, full_name VARCHAR(255) NOT NULL,
    country CHAR(2) NOT NULL, created_at DATETIME NOT NULL, profile JSON NOT NULL) ENGINE=InnoDB;
  CREATE TABLE products (id BIGINT NOT NULL PRIMARY KEY, sku VARCHAR(32) NOT NULL, title VARCHAR(255) NOT NULL,
    price DECIMAL(10,2) NOT NULL, attributes JSON NOT NULL) ENGINE=InnoDB;
  CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer_id BIGINT NOT NULL, created_at DATETIME NOT NULL,
    status VARCHAR(16) NOT NULL, email VARCHAR(255) NOT NULL, amount DECIMAL(12,2) NOT NULL, currency CHAR(3) NOT NULL,
    token CHAR(32) NOT NULL, note TEXT) ENGINE=InnoDB;
  CREATE TABLE order_items (order_id BIGINT NOT NULL, line SMALLINT NOT NULL, product_id BIGINT NOT NULL,
    quantity INT NOT NULL, unit_price DECIMAL(10,2) NOT NULL, PRIMARY KEY (order_id, line)) ENGINE=InnoDB;
  CREATE TABLE order_events (id BIGINT NOT NULL PRIMARY KEY, order_id BIGINT NOT NULL, at DATETIME NOT NULL,
    kind VARCHAR(32) NOT NULL, payload JSON NOT NULL) ENGINE=InnoDB;`;

/** Secondary indexes and the foreign key after the load (InnoDB keeps rows in primary key order, so those stay). */
const MARIADB_KEYS = `
  ALTER TABLE orders ADD INDEX orders_customer_id_idx (customer_id), ADD INDEX orders_created_at_idx (created_at);
  SET foreign_key_checks = 0;
  ALTER TABLE order_items ADD CONSTRAINT order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id);`;

/** (Re)creates `db` with the shop, about `bytes` of mariadb-dump SQL. */
export async function generateAppMariadb(maria: MariaHandle, db: string, bytes: number): Promise<Generated> {
  const started = Date.now();
  await maria.query(`DROP DATABASE IF EXISTS \`${db}\`; CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4;`);
  await maria.query(MARIADB_TABLES, db);
  const orders = await generate(
    (lo, hi) => maria.query(insertBatch(mariadbDialect, lo, hi).map((sql) => `${sql};`).join('\n'), db).then(() => {}),
    () => mariaDumpBytes(maria, db),
    bytes,
  );
  await maria.query(`${MARIADB_KEYS}\nANALYZE TABLE customers, products, orders, order_items, order_events;`, db);
  return { description: description(orders), seconds: (Date.now() - started) / 1000 };
}
