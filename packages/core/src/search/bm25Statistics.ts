import type pg from 'pg';

/** BM25 term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25 document-length normalization. */
export const BM25_B = 0.75;

/** BM25 inverse document frequency of a term in `df` of `documents` documents: ln(1 + (N − n + 0.5)/(n + 0.5)). */
export const bm25Idf = (documents: number, df: number): number => Math.log(1 + (documents - df + 0.5) / (df + 0.5));

/**
 * The BM25 weight of a posting of query term `ti` (tf, document length),
 * given the query terms' idfs: one expression for both postings layouts,
 * so a document gets the same bits whichever layout holds it.
 */
export const bm25Weight =
  (idfs: readonly number[], k1: number, b: number, avgdl: number) =>
  (ti: number, tf: number, len: number): number =>
    (idfs[ti]! * (tf * (k1 + 1))) / (tf + k1 * (1 - b + (b * len) / avgdl));

/**
 * The one home of the BM25 statistics SQL: three common table expressions,
 * `st` (one row: n, the documents, and len, their total length, over the
 * entity names `names`), `d` (term, df for each query term of `terms` some
 * document under the postings keys `keys` holds) and `ck` (one row: cur, how
 * many of the (name, key) pairs `checkNames`/`checkKeys` are still the
 * entities' postings keys; fewer than given: an analyzer switch happened
 * since the caller read them). Every statistics row is summed: statistics
 * are spread over per-transaction slots (sql/000008_bm25_slots.sql), and
 * several entities are searched as one collection. Document counts and
 * lengths are per entity name; term statistics per postings key
 * (sql/000011_entity_analyzers.sql).
 */
export const bm25StatisticsCtes = (p: { names: string; keys: string; terms: string; checkNames: string; checkKeys: string }) => `st AS (SELECT coalesce(sum(n_docs), 0)::float8 AS n, coalesce(sum(total_len), 0)::float8 AS len
                FROM kdb_bm25_stats WHERE entity = ANY(${p.names}::text[])),
       d AS (SELECT term, sum(df)::int AS df FROM kdb_bm25_terms
              WHERE entity = ANY(${p.keys}::text[]) AND term = ANY(${p.terms}::text[]) GROUP BY term),
       ck AS (SELECT count(*)::int AS cur FROM unnest(${p.checkNames}::text[], ${p.checkKeys}::text[]) AS c(name, key)
                JOIN kdb_entities e ON e.name = c.name AND coalesce(e.postings_key, e.name) = c.key)`;

/** The statistics alone: one row per term in `d`, or one row with a null term when `d` is empty. */
const BM25_STATISTICS_SQL = `
  WITH ${bm25StatisticsCtes({ names: '$1', keys: '$3', terms: '$2', checkNames: '$4', checkKeys: '$5' })}
  SELECT st.n, st.len, d.term, d.df, ck.cur FROM st CROSS JOIN ck LEFT JOIN d ON true`;

/** Where statistics are read: entity names (documents, lengths), the postings keys of the searched group (terms), and the pairs to check. */
export interface StatisticsScope {
  /** Every searched entity (documents and total length). */
  names: readonly string[];
  /** Postings keys whose term statistics count (the entities of one analyzer). */
  keys: readonly string[];
  /** The entities of `keys`, in the same order: checked to still have those keys. */
  keyNames: readonly string[];
}

export interface Bm25Statistics {
  /** Documents in the searched entities. */
  documents: number;
  totalLength: number;
  /** Documents holding each query term (0 when none does). */
  df: Map<string, number>;
  /** Some entity's postings key changed since the scope was read (an analyzer switch): read the scope again. */
  stale: boolean;
}

/**
 * The BM25 statistics of `terms` over `scope`, in a statement of their
 * own. Unfiltered searches read them with the first round of the keyword
 * top-k instead (readStatsAndHeads; see docs/decisions/bm25-statistics-in-first-statement.md).
 */
export async function readBm25Statistics(db: pg.Pool | pg.ClientBase, scope: StatisticsScope, terms: readonly string[]): Promise<Bm25Statistics> {
  const { rows } = await db.query<{ n: number; len: number; term: string | null; df: number | null; cur: number }>({
    name: 'kdb_bm25_stats',
    text: BM25_STATISTICS_SQL,
    values: [scope.names, terms, scope.keys, scope.keyNames, scope.keys],
  });
  const df = new Map(terms.map((t) => [t, 0]));
  for (const r of rows) if (r.term !== null) df.set(r.term, Number(r.df));
  return { documents: Number(rows[0]?.n ?? 0), totalLength: Number(rows[0]?.len ?? 0), df, stale: Number(rows[0]?.cur ?? 0) !== scope.keys.length };
}

/** What a top-k search over query terms works with: the terms and idfs in summing order, each term's index, and its weight function. */
export function bm25Query(opts: { terms: readonly { term: string; idf: number }[]; k1: number; b: number; avgdl: number }) {
  const terms = opts.terms.map((t) => t.term);
  const idfs = opts.terms.map((t) => t.idf);
  return { terms, idfs, T: terms.length, termIndex: new Map(terms.map((t, i) => [t, i])), weight: bm25Weight(idfs, opts.k1, opts.b, opts.avgdl) };
}
