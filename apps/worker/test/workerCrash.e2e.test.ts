import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { HashProvider, tokenize } from '@kameleondb/core';

describe('a worker killed with SIGKILL mid-ingest', () => {
  let p: Pipeline;
  let db: Pipeline['db'];
  let children: Pipeline['workers'];
  let url: string;

  beforeAll(async () => {
    // Small batches so the ingest spans many of them; a short lock so the
    // dead worker's jobs come back quickly.
    p = await startPipeline({ workers: 2, env: { KDB_EMBEDDING_MAX_INPUTS: '256', KDB_JOB_LOCK_MS: '3000' }, apiEnv: { KDB_JOB_SIZE: '256' } });
    ({ db } = p);
    url = p.api.url;
    children = [p.api as never, ...p.workers];
  });
  afterAll(() => p.close());

  it('loses nothing: all 20,000 rows end ready with correct vectors and keyword postings written once', async () => {
    const json = { 'content-type': 'application/json' };
    await fetch(`${url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'logs', fields: { line: 'text' }, embedFields: ['line'] }) });
    const res = await fetch(`${url}/v1/entities/logs/records`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ line: `log line ${i} level ${i % 5}` }))),
    });
    expect(res.status).toBe(202);
    const ids = ((await res.json()) as { ids: string[] }).ids;
    const ready = async () => Number((await db.pool.query(`SELECT count(*) FROM kdb_search WHERE status = 'ready'`)).rows[0].count);

    while ((await ready()) < 2000) await new Promise((r) => setTimeout(r, 20));
    const victim = children[1]!;
    victim.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    const atKill = await ready();
    expect(atKill).toBeLessThan(20_000);

    const deadline = Date.now() + 150_000;
    while ((await ready()) < 20_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const provider = new HashProvider();
    const rows = await readVectors(db.pool, ids);
    expect([...rows.values()].filter((r) => r.status !== 'ready')).toEqual([]);
    for (const row of rows.values()) expect(row.vector).toEqual(Array.from(provider.embedOne(row.content)));

    // The keyword postings the batches wrote (the dead worker's batches too, redone by the other): each row's terms once, exact statistics.
    let postings = 0;
    let length = 0;
    for (const row of rows.values()) {
      const tokens = tokenize(row.content);
      postings += new Set(tokens).size;
      length += tokens.length;
    }
    const k = await db.pool.query(
      `SELECT (SELECT count(*)::int FROM kdb_postings) AS postings,
              (SELECT count(DISTINCT (record_id, term))::int FROM kdb_postings) AS distinct_postings,
              (SELECT count(*)::int FROM kdb_search WHERE keyword_hash = content_hash) AS indexed,
              (SELECT row(n_docs, total_len)::text FROM kdb_bm25_stats WHERE entity = 'logs') AS stats,
              (SELECT df::int FROM kdb_bm25_terms WHERE entity = 'logs' AND term = 'level') AS df_level`,
    );
    expect(k.rows[0]).toEqual({ postings, distinct_postings: postings, indexed: 20_000, stats: `(20000,${length})`, df_level: 20_000 });
  });
});
