/** Rows per table, per database, as a backup counted them: `{ shop: { 'public.orders': 1200 } }`. */
export type RowCounts = Record<string, Record<string, number>>;
