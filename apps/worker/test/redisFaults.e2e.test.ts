import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { createRedis, MAINTENANCE_QUEUE } from '@kameleondb/core';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { startPrivateRedis, type PrivateRedis } from '../../../test-support/privateRedis.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { send, until } from '../../../test-support/http.js';

/**
 * Redis faults on real processes: one API and one worker against a
 * redis-server of this file's own (FLUSHALL, stop and start without
 * persistence), the embeddings from the local OpenAI wire-format server,
 * slowed so an ingest is still in flight when the fault hits.
 */
describe('Redis faults', () => {
  let redis: PrivateRedis;
  let p: Pipeline;
  let maintenance: Queue;
  let connection: ReturnType<typeof createRedis>;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    p = await startPipeline({
      workers: 1,
      openai: { delayMs: 100 },
      env: {
        KDB_REDIS_URL: redis.url,
        KDB_EMBEDDING_MAX_INPUTS: '64',
        KDB_SWEEP_EVERY: '1s',
        KDB_SWEEP_AFTER: '2s',
        KDB_SCHEDULE_CHECK_EVERY: '1s',
        KDB_JOB_LOCK_MS: '3000',
        KDB_SEGMENTS: 'off',
        // Eviction enabled, so its schedule is one of those that must come back.
        KDB_CACHE_MAX_AGE: '90d',
      },
      apiEnv: { KDB_JOB_SIZE: '64' },
    });
    connection = createRedis(redis.url);
    // This file stops its Redis on purpose: the refused reconnects are expected.
    connection.on('error', () => undefined);
    maintenance = new Queue(MAINTENANCE_QUEUE, { connection, prefix: p.prefix });
    maintenance.on('error', () => undefined);
  });
  afterAll(async () => {
    await maintenance?.close().catch(() => undefined);
    // BullMQ leaves a connection it was given open.
    connection?.disconnect();
    await p?.close();
    await redis?.close();
  });

  /** A request with a deadline: a route that hangs on Redis fails the test instead of stalling it. */
  const timed = async (method: string, path: string, body?: unknown, ms = 10_000) => {
    const started = Date.now();
    const res = await send(p.api.url, method, path, {
      signal: AbortSignal.timeout(ms),
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, body: res.body, ms: Date.now() - started };
  };
  const count = async (entity: string, status: string) =>
    Number((await p.db.pool.query(`SELECT count(*) AS n FROM kdb_search WHERE entity = $1 AND status = $2`, [entity, status])).rows[0].n);
  const ingest = async (entity: string, n: number) => {
    expect((await timed('POST', '/v1/entities', { name: entity, fields: { line: 'text' }, embedFields: ['line'] })).status).toBe(201);
    const res = await timed('POST', `/v1/entities/${entity}/records`, Array.from({ length: n }, (_, i) => ({ line: `${entity} line ${i} word${i % 7}` })));
    expect(res.status).toBe(202);
    return res.body.ids as string[];
  };
  const schedules = async () => (await maintenance.getJobSchedulers()).map((s) => s.key).sort();
  /** Every row ready, each with the vector of its own text. */
  const expectAllReady = async (entity: string, ids: string[], timeoutMs = 60_000) => {
    await until(async () => (await count(entity, 'ready')) === ids.length, timeoutMs, 200);
    const rows = await readVectors(p.db.pool, ids);
    expect(rows.size).toBe(ids.length);
    for (const row of rows.values()) expect(row.vector).toEqual(Array.from(p.fake!.vectorOf(row.content, 384)));
  };

  it('FLUSHALL during an ingest: the schedules come back by themselves and every row ends ready', async () => {
    expect(await schedules()).toEqual(['cache-eviction', 'ingest-key-expiry', 'sweeper']);
    const ids = await ingest('flushed', 2000);
    await until(async () => (await count('flushed', 'ready')) >= 200, 30_000, 20);
    await redis.flushAll();
    expect(await count('flushed', 'ready')).toBeLessThan(2000);
    // Put back by the worker's periodic check (1 s here; 30 s by default).
    await until(async () => (await schedules()).length === 3, 10_000, 100);
    expect(await schedules()).toEqual(['cache-eviction', 'ingest-key-expiry', 'sweeper']);
    await expectAllReady('flushed', ids);
    expect(p.workers[0]!.output()).toMatch(/"schedule":"sweeper".*registered again/);
  });

  it('a Redis restart without persistence during an ingest: the schedules come back and every row ends ready', async () => {
    const ids = await ingest('restarted', 2000);
    await until(async () => (await count('restarted', 'ready')) >= 200, 30_000, 20);
    await redis.stop();
    await redis.start();
    expect(await count('restarted', 'ready')).toBeLessThan(2000);
    await until(async () => (await schedules()).length === 3, 10_000, 100);
    expect(await schedules()).toEqual(['cache-eviction', 'ingest-key-expiry', 'sweeper']);
    await expectAllReady('restarted', ids);
  });

  it('FLUSHALL during a forced reindex: the run never answers 404 and ends failed, "lost in Redis", from kdb_reindex_runs', async () => {
    const ids = await ingest('reindexed', 1500);
    await expectAllReady('reindexed', ids);
    // No cache hits: the forced run calls the (slow) provider again, so it is still running at the flush.
    await p.db.pool.query('DELETE FROM kdb_embedding_cache');
    const started = await timed('POST', '/v1/reindex', { entity: 'reindexed', force: true });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    // Recorded in Postgres from the start, not only at its end.
    expect((await p.db.pool.query('SELECT state FROM kdb_reindex_runs WHERE id = $1', [id])).rows).toHaveLength(1);
    await until(async () => (await timed('GET', `/v1/reindex/${id}`)).body.processed >= 128, 30_000, 20);
    await redis.flushAll();

    const ended = await until(async () => {
      const r = await timed('GET', `/v1/reindex/${id}`);
      if (r.status !== 200) throw new Error(`GET /v1/reindex/${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
      return ['completed', 'failed', 'cancelled'].includes(r.body.state) ? r.body : null;
    }, 15_000, 100);
    expect(ended).toMatchObject({ id, entity: 'reindexed', force: true, state: 'failed' });
    expect(ended.error).toMatch(/^lost in Redis/);
    expect(ended.finishedAt).not.toBeNull();

    const list = await timed('GET', '/v1/reindex');
    expect(list.body.runs.find((r: { id: string }) => r.id === id)).toMatchObject({ state: 'failed', error: ended.error });
    const status = await timed('GET', '/v1/embeddings/status');
    expect(status.status).toBe(200);
    expect(status.body.activeRuns).toEqual([]);
    expect((await p.db.pool.query('SELECT state, error FROM kdb_reindex_runs WHERE id = $1', [id])).rows[0]).toEqual({ state: 'failed', error: ended.error });
    // The rows themselves are unharmed, the schedules are back, and a new run can start on the scope the lost one held.
    await expectAllReady('reindexed', ids);
    await until(async () => (await schedules()).length === 3, 10_000, 100);
    const next = await timed('POST', '/v1/reindex', { entity: 'reindexed' });
    expect(next.status).toBe(202);
  });

  it('Redis down for 30 s during an ingest: bounded answers with warnings, reads work, every row ends ready after it returns', async () => {
    const during = await ingest('outage', 2000);
    await until(async () => (await count('outage', 'ready')) >= 200, 30_000, 20);
    await redis.stop();
    const downAt = Date.now();

    // An ingest is answered within the enqueue bound (3 s) plus the write: 202 with the warning, rows left to the sweeper.
    const res = await timed('POST', '/v1/entities/outage/records', Array.from({ length: 100 }, (_, i) => ({ line: `written while Redis was down ${i}` })));
    expect(res.status).toBe(202);
    expect(res.ms).toBeLessThan(8000);
    expect(res.body.jobs).toBe(0);
    expect(res.body.warning).toMatch(/stay pending until the sweeper enqueues them/);
    const late = res.body.ids as string[];
    expect(await count('outage', 'pending')).toBeGreaterThanOrEqual(100);

    // A PATCH that changes the text is kept the same way.
    const patched = await timed('PATCH', `/v1/entities/outage/records/${during[1]}`, { line: 'patched while Redis was down' });
    expect(patched.status).toBe(200);
    expect(patched.ms).toBeLessThan(8000);
    expect(patched.body).toMatchObject({ reembed: true, warning: expect.stringMatching(/stays pending until the sweeper enqueues it/) });

    // Status answers within the bound with what Postgres knows.
    const status = await timed('GET', '/v1/embeddings/status');
    expect(status.status).toBe(200);
    expect(status.ms).toBeLessThan(8000);
    expect(status.body.activeRuns).toBeNull();
    expect(status.body.warning).toMatch(/active reindex runs are unknown: Redis .* did not answer within/);
    expect(status.body.entities.find((e: { entity: string }) => e.entity === 'outage')).toBeDefined();

    // Reads that do not need Redis keep working.
    expect((await timed('GET', '/v1/entities', undefined, 5000)).status).toBe(200);
    const record = await timed('GET', `/v1/entities/outage/records/${during[0]}`, undefined, 5000);
    expect(record).toMatchObject({ status: 200, body: { id: during[0] } });
    const search = await timed('POST', '/v1/search', { q: 'outage line', mode: 'keyword', entity: 'outage' }, 5000);
    expect(search.status).toBe(200);
    expect(search.body.results.length).toBeGreaterThan(0);
    const runs = await timed('GET', '/v1/reindex', undefined, 8000);
    expect(runs.status).toBe(200);
    const earlier = runs.body.runs.find((r: { entity: string }) => r.entity === 'reindexed');
    expect(earlier).toBeDefined();
    expect((await timed('GET', `/v1/reindex/${earlier.id}`, undefined, 8000)).status).toBe(200);
    expect((await timed('POST', '/v1/reindex', { entity: 'outage', dryRun: true }, 5000)).status).toBe(200);
    // Starting a run needs Redis: refused at once, nothing recorded.
    const before = Number((await p.db.pool.query('SELECT count(*) AS n FROM kdb_reindex_runs')).rows[0].n);
    const refused = await timed('POST', '/v1/reindex', { entity: 'outage' }, 8000);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/Redis is not connected/) });
    expect(Number((await p.db.pool.query('SELECT count(*) AS n FROM kdb_reindex_runs')).rows[0].n)).toBe(before);
    expect((await timed('GET', '/readyz', undefined, 5000)).status).toBe(503);

    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    await redis.start();
    // Nothing restarted: the same processes carry on.
    expect(p.api.proc.exitCode).toBeNull();
    expect(p.workers[0]!.proc.exitCode).toBeNull();
    await until(async () => (await schedules()).length === 3, 10_000, 100);
    await expectAllReady('outage', [...during, ...late]);
    expect((await readVectors(p.db.pool, [during[1]!])).get(during[1]!)!.content).toContain('patched while Redis was down');
  });
});
