import type { Queue } from 'bullmq';
import type pg from 'pg';

/** What a request could have written: rows of the data tables (postings: rows and blocks), entities, runs, and jobs in every queue. */
export async function writeCounts(pool: pg.Pool, queues: readonly Queue[]): Promise<Record<string, number>> {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM kdb_records)::int AS records, (SELECT count(*) FROM kdb_search)::int AS search,
            (SELECT count(*) FROM kdb_embedding_cache)::int AS cache, (SELECT count(*) FROM kdb_entities)::int AS entities,
            (SELECT count(*) FROM kdb_reindex_runs)::int AS runs, (SELECT count(*) FROM kdb_ingest_keys)::int AS ingest_keys,
            (SELECT count(*) FROM kdb_ingest_key_ids)::int AS ingest_key_ids, ((SELECT count(*) FROM kdb_postings) + (SELECT count(*) FROM kdb_postings_blocks))::int AS postings`,
  );
  const out: Record<string, number> = { ...rows[0] };
  for (const q of queues) {
    const c = await q.getJobCounts();
    out[`jobs:${q.name}`] = Object.values(c).reduce((a, b) => a + b, 0);
  }
  return out;
}
