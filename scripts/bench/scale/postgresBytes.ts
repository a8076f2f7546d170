import type pg from 'pg';

/** Postgres bytes of the pipeline's relations, by role; `indexes` includes the HNSW segments (`hnsw` alone). */
export interface PostgresBytes {
  /** Records and their search rows, keys, runs, catalogs: heap with TOAST. */
  table: number;
  /** Keyword postings and BM25 statistics: heap with TOAST. */
  postings: number;
  /** Vectors and the embedding cache: heap with TOAST. */
  vectors: number;
  /** Every index of those relations. */
  indexes: number;
  /** Of `indexes`: the HNSW indexes (the vector segments). */
  hnsw: number;
  /** Of `indexes`: those of the postings and BM25 tables (absent in results of older runs). */
  postingsIndexes?: number;
}

// By name, so relations other engineers add land in a role without a change here:
// keyword tables are kdb_postings* and kdb_bm25*, vector tables kdb_vectors_* and the cache (its entries and their usage).
const ROLE_SQL = `
  SELECT CASE WHEN c.relname LIKE 'kdb\\_postings%' OR c.relname LIKE 'kdb\\_bm25%' THEN 'postings'
              WHEN c.relname LIKE 'kdb\\_vectors%' OR c.relname LIKE 'kdb\\_embedding\\_cache%' THEN 'vectors'
              ELSE 'table' END AS role,
         sum(pg_table_size(c.oid))::float8 AS heap,
         sum(pg_indexes_size(c.oid))::float8 AS indexes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname LIKE 'kdb\\_%' AND c.relname NOT LIKE 'kdb\\_bench%'
   GROUP BY 1`;
const HNSW_SQL = `
  SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0)::float8 AS bytes
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
   WHERE am.amname = 'hnsw' AND ic.relname LIKE 'kdb\\_%' AND ic.relname NOT LIKE 'kdb\\_bench%'`;

/** Bytes per role, measured with pg_table_size and pg_indexes_size on each kdb_ relation. */
export async function postgresBytes(db: pg.ClientBase): Promise<PostgresBytes> {
  const out: PostgresBytes = { table: 0, postings: 0, vectors: 0, indexes: 0, hnsw: 0, postingsIndexes: 0 };
  for (const r of (await db.query<{ role: 'table' | 'postings' | 'vectors'; heap: number; indexes: number }>(ROLE_SQL)).rows) {
    out[r.role] += r.heap;
    out.indexes += r.indexes;
    if (r.role === 'postings') out.postingsIndexes! += r.indexes;
  }
  out.hnsw = (await db.query<{ bytes: number }>(HNSW_SQL)).rows[0]!.bytes;
  return out;
}
