import type { Queue } from 'bullmq';
import type pg from 'pg';

/** What a request could have written: rows of the data tables, entities, runs, and jobs in every queue. */
export async function writeCounts(pool: pg.Pool, queues: readonly Queue[]): Promise<Record<string, number>> {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM kdb_records)::int AS records, (SELECT count(*) FROM kdb_search)::int AS search,
            (SELECT count(*) FROM kdb_embedding_cache)::int AS cache, (SELECT count(*) FROM kdb_entities)::int AS entities,
            (SELECT count(*) FROM kdb_reindex_runs)::int AS runs, (SELECT count(*) FROM kdb_ingest_keys)::int AS ingest_keys`,
  );
  const out: Record<string, number> = { ...rows[0] };
  for (const q of queues) {
    const c = await q.getJobCounts();
    out[`jobs:${q.name}`] = Object.values(c).reduce((a, b) => a + b, 0);
  }
  return out;
}

/** Sends raw bytes with exactly the given headers (fetch adds only content-length). */
export async function send(base: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}) {
  const res = await fetch(base + path, { method, headers: opts.headers ?? {}, ...(opts.body === undefined ? {} : { body: typeof opts.body === 'string' ? opts.body : new Uint8Array(opts.body) }) });
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}
