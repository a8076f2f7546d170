import type pg from 'pg';

/** BM25 term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25 document-length normalization. */
export const BM25_B = 0.75;

/** BM25 inverse document frequency of a term in `df` of `documents` documents: ln(1 + (N − n + 0.5)/(n + 0.5)). */
export const bm25Idf = (documents: number, df: number): number => Math.log(1 + (documents - df + 0.5) / (df + 0.5));

/**
 * The one home of the BM25 statistics SQL: two common table expressions, `st`
 * (one row: n, the documents, and len, their total length) and `d` (term, df
 * for each query term some document holds), over the entities $1 and the
 * terms $2. Every statistics row is summed: an entity's statistics are spread
 * over per-transaction slots (sql/000008_bm25_slots.sql), and several
 * entities are searched as one collection.
 */
export const BM25_STATISTICS_CTES = `st AS (SELECT coalesce(sum(n_docs), 0)::float8 AS n, coalesce(sum(total_len), 0)::float8 AS len
                FROM kdb_bm25_stats WHERE entity = ANY($1::text[])),
       d AS (SELECT term, sum(df)::int AS df FROM kdb_bm25_terms
              WHERE entity = ANY($1::text[]) AND term = ANY($2::text[]) GROUP BY term)`;

/** The statistics alone: one row per term in `d`, or one row with a null term when `d` is empty. */
const BM25_STATISTICS_SQL = `
  WITH ${BM25_STATISTICS_CTES}
  SELECT st.n, st.len, d.term, d.df FROM st LEFT JOIN d ON true`;

export interface Bm25Statistics {
  /** Documents in the searched entities. */
  documents: number;
  totalLength: number;
  /** Documents holding each query term (0 when none does). */
  df: Map<string, number>;
}

/**
 * The BM25 statistics of `terms` over `entities`, in a statement of their
 * own. Unfiltered searches read them with the first round of the keyword
 * top-k instead (readStatsAndHeads; see docs/decisions/bm25-statistics-in-first-statement.md).
 */
export async function readBm25Statistics(db: pg.Pool | pg.ClientBase, entities: readonly string[], terms: readonly string[]): Promise<Bm25Statistics> {
  const { rows } = await db.query<{ n: number; len: number; term: string | null; df: number | null }>({
    name: 'kdb_bm25_stats',
    text: BM25_STATISTICS_SQL,
    values: [entities, terms],
  });
  const df = new Map(terms.map((t) => [t, 0]));
  for (const r of rows) if (r.term !== null) df.set(r.term, Number(r.df));
  return { documents: Number(rows[0]?.n ?? 0), totalLength: Number(rows[0]?.len ?? 0), df };
}
