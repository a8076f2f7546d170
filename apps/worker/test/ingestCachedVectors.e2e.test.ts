import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, EMBED_QUEUE } from '@kameleondb/core';
import { test } from '../../../test-support/fixtures.js';
import { startApiProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';

test.override('pipelineOptions', { workers: 1, openai: true });

describe('an ingest of texts the embedding cache holds (vectors written in the ingest transaction)', () => {
  let p: Pipeline;
  let fake: NonNullable<Pipeline['fake']>;
  let redis: ReturnType<typeof createRedis>;
  const children: ChildApp[] = [];
  const texts = Array.from({ length: 60 }, (_, i) => ({ text: `cached text number ${i} about ${i % 2 ? 'ships' : 'trains'}` }));

  const post = async (records: unknown[], query = '') => {
    const res = await p.call<{ ids: string[]; jobs: number; counts?: Record<string, number> }>('POST', `/v1/entities/notes/records${query}`, records);
    // ?wait=true answers once the rows are embedded (200); otherwise at the commit (202).
    expect(res.status).toBe(query.includes('wait=true') ? 200 : 202);
    return res.body;
  };
  const statuses = async (ids: readonly string[]) => [...(await readVectors(p.db.pool, ids)).values()].map((r) => r.status);
  /** Embed jobs ever added under the pipeline's prefix (BullMQ's job id counter). */
  const jobsAdded = async () => Number((await redis.get(`${p.prefix}:${EMBED_QUEUE}:id`)) ?? 0);
  const cacheSummary = async () => (await p.call<{ hits: number; misses: number; models: { hits: number }[] }>('GET', '/v1/cache')).body;

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    fake = p.fake!;
    redis = createRedis(p.redis);
    await p.call('POST', '/v1/entities', { name: 'notes', fields: { text: 'text' }, embedFields: ['text'] });
    // The first ingest goes through the provider and fills the cache.
    const first = await post(texts, '?wait=true');
    expect(first.counts).toEqual({ ready: texts.length, pending: 0, failed: 0 });
  });
  afterAll(async () => {
    await stopAll(children);
    await redis?.quit();
  });

  it('is searchable at its 202, with the cached vectors, no provider request and no embed job', async () => {
    const requests = fake.requests.length;
    const jobs = await jobsAdded();
    const before = await cacheSummary();
    const again = await post(texts);
    expect(again.jobs).toBe(0);
    // Ready at the answer: nothing was left for a worker.
    const rows = await readVectors(p.db.pool, again.ids);
    expect([...rows.values()].every((r) => r.status === 'ready')).toBe(true);
    for (const row of rows.values()) expect(row.vector).toEqual(Array.from(fake.vectorOf(row.content, 384)));
    expect(await jobsAdded()).toBe(jobs);
    expect(fake.requests.length).toBe(requests);
    const { body } = await p.call<{ results: { id: string }[] }>('GET', `/v1/search?mode=vector&cache=false&entity=notes&limit=100&q=${encodeURIComponent(texts[7]!.text)}`);
    expect(body.results.map((r) => r.id)).toContain(again.ids[7]);

    // The hits are counted after the answer: one per text on its cache entry, and in the shared counters.
    await expect.poll(async () => (await cacheSummary()).models[0]!.hits - before.models[0]!.hits, { timeout: 10_000 }).toBe(texts.length);
    const after = await cacheSummary();
    expect(after.models[0]!.hits - before.models[0]!.hits).toBe(texts.length);
    expect(after.hits - before.hits).toBe(texts.length);
    expect(after.misses).toBe(before.misses);
  });

  it('partly cached: the cached rows are ready at the 202, and only the new texts go to the provider', async () => {
    const fresh = Array.from({ length: 25 }, (_, i) => ({ text: `a new text ${i} never embedded` }));
    const mixed = texts.slice(0, 30).flatMap((t, i) => (fresh[i] ? [t, fresh[i]] : [t]));
    fake.requests.length = 0;
    const jobs = await jobsAdded();
    const answer = await post(mixed);
    expect(answer.jobs).toBe(1);
    expect(await jobsAdded()).toBe(jobs + 1);
    const isFresh = mixed.map((r) => r.text.startsWith('a new text'));
    const cachedIds = answer.ids.filter((_, i) => !isFresh[i]);
    const freshIds = answer.ids.filter((_, i) => isFresh[i]);
    expect(await statuses(cachedIds)).toEqual(cachedIds.map(() => 'ready'));
    const deadline = Date.now() + 60_000;
    while ((await statuses(freshIds)).some((s) => s !== 'ready')) {
      if (Date.now() > deadline) throw new Error('the new texts were never embedded');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(fake.requests.flatMap((r) => r.input).sort()).toEqual(fresh.map((r) => `text: ${r.text}`).sort());
    for (const row of (await readVectors(p.db.pool, answer.ids)).values()) expect(row.vector).toEqual(Array.from(fake.vectorOf(row.content, 384)));
  });

  it('with KDB_INGEST_CACHED_VECTORS=off every row waits for a worker, as before', async () => {
    const api = await startApiProcess({ ...p.env, KDB_INGEST_CACHED_VECTORS: 'off' });
    children.push(api);
    const res = await fetch(`${api.url}/v1/entities/notes/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(texts.slice(0, 10)) });
    const answer = (await res.json()) as { ids: string[]; jobs: number };
    expect(res.status).toBe(202);
    expect(answer.jobs).toBe(1);
    await stopAll([api]);
  });

  it('an API killed inside an ingest of cached texts leaves no record, search row or vector of it, and counts no hit', async () => {
    // 100,000 rows whose texts the cache holds (entries made here: the crash, not the vectors, is under test).
    await p.call('POST', '/v1/entities', { name: 'bulk', fields: { t: 'text' }, embedFields: ['t'] });
    const body = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ t: `bulk row ${i}` })).join('\n');
    // No worker from here on: the rows of the first request stay pending, so only the killed request could write vectors.
    await stopAll(p.workers);
    const api = await startApiProcess(p.env);
    children.push(api);
    const seed = await fetch(`${api.url}/v1/entities/bulk/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    expect(seed.status).toBe(202);
    const watcher = new pg.Client({ connectionString: p.db.url });
    await watcher.connect();
    try {
      const space = (await watcher.query<{ id: number; model_key: string }>(`SELECT id, model_key FROM kdb_embedding_spaces WHERE state = 'active'`)).rows[0]!;
      await watcher.query(
        `INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding)
         SELECT DISTINCT $1, content_hash, array_fill(0.5, ARRAY[384])::vector FROM kdb_search WHERE entity = 'bulk'
         ON CONFLICT DO NOTHING`,
        [space.model_key],
      );
      const count = async () =>
        (
          await watcher.query<{ r: number; s: number; v: number; hits: number }>(
            `SELECT (SELECT count(*) FROM kdb_records WHERE entity = 'bulk')::int AS r, (SELECT count(*) FROM kdb_search WHERE entity = 'bulk')::int AS s,
                    (SELECT count(*) FROM kdb_vectors_${space.id} WHERE entity = 'bulk')::int AS v,
                    (SELECT coalesce(sum(hits), 0)::int FROM kdb_embedding_cache_usage u JOIN kdb_search s ON s.content_hash = u.text_hash WHERE s.entity = 'bulk') AS hits`,
          )
        ).rows[0]!;
      const seeded = await count();

      const request = fetch(`${api.url}/v1/entities/bulk/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body }).catch((e: unknown) => e);
      // Killed once the transaction is copying cached vectors (the statement that writes them is running).
      const deadline = Date.now() + 120_000;
      for (;;) {
        const { rows } = await watcher.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kameleondb-api'
              AND backend_xid IS NOT NULL AND query LIKE '%INSERT INTO kdb_vectors_%'`,
        );
        if (rows[0].n > 0) break;
        if (Date.now() > deadline) throw new Error('never saw the ingest transaction write vectors');
        await new Promise((r) => setTimeout(r, 2));
      }
      api.kill('SIGKILL');
      expect(await api.exited).toBe('SIGKILL');
      expect(await request).toBeInstanceOf(Error);
      // The server notices the dead client and rolls its transaction back.
      for (let i = 0; i < 200; i++) {
        const { rows } = await watcher.query(`SELECT count(*)::int AS live FROM pg_stat_activity WHERE application_name = 'kameleondb-api' AND datname = current_database() AND backend_xid IS NOT NULL`);
        if (rows[0].live === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await count()).toEqual(seeded);
    } finally {
      await watcher.end();
    }
  });
});
