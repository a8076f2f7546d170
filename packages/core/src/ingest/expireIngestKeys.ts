import type pg from 'pg';

/**
 * Forgets idempotency keys older than `maxAgeMs` (their records stay): a
 * retry later than that writes the records again. Returns how many went.
 */
export async function expireIngestKeys(pool: pg.Pool, maxAgeMs: number): Promise<number> {
  const { rowCount } = await pool.query('DELETE FROM kdb_ingest_keys WHERE created_at < now() - make_interval(secs => $1::float8 / 1000)', [maxAgeMs]);
  return rowCount ?? 0;
}
