import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient, ReindexRunStore } from '@kameleondb/core';
import { LOST_IN_REDIS } from '../src/reindex/ReindexRunStore.js';
import { test } from '../../../test-support/fixtures.js';
import { obliterateQueues } from '../../../test-support/queuePrefix.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

/**
 * The run store against real Redis and Postgres. Deleting every key of the
 * test's prefix stands for a FLUSHALL (the shared Redis is never flushed);
 * an unreachable Redis is a port nothing listens on.
 */
describe('ReindexRunStore when Redis loses or withholds a run', () => {
  let db: TestDatabase;
  let redis: RedisClient;
  let prefix: string;
  let runs: ReindexRunStore;
  const row = async (id: string) => (await db.pool.query('SELECT state, error, finished_at FROM kdb_reindex_runs WHERE id = $1', [id])).rows[0];

  test.beforeAll(({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
    redis = createRedis(redisUrl());
    runs = new ReindexRunStore(redis, db.pool, prefix);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('records a run in Postgres when it is created and mirrors its state while it is live', async () => {
    const created = await runs.create({ entity: null, force: true });
    if (!('run' in created)) throw new Error('conflict');
    const id = created.run.id;
    expect(await row(id)).toMatchObject({ state: 'queued', error: null, finished_at: null });
    await runs.markPlanning(id, 42);
    expect(await row(id)).toMatchObject({ state: 'planning', finished_at: null });
    await runs.finish(id, 'cancelled');
    expect((await row(id)).state).toBe('cancelled');
  });

  it('ends a live run whose Redis state vanished as failed, "lost in Redis", in every read and in the periodic check', async () => {
    const a = await runs.create({ entity: 'a', force: true });
    const b = await runs.create({ entity: 'b', force: false });
    if (!('run' in a) || !('run' in b)) throw new Error('conflict');
    await obliterateQueues(prefix);

    // Nobody asked about run b: the workers' periodic check ends it.
    expect(await runs.failLostRuns()).toBe(2);
    expect(await runs.failLostRuns()).toBe(0);
    expect(await row(b.run.id)).toMatchObject({ state: 'failed', error: LOST_IN_REDIS });
    expect(await runs.get(a.run.id)).toMatchObject({ id: a.run.id, entity: 'a', state: 'failed', error: LOST_IN_REDIS, finishedAt: expect.any(String) });
    expect((await runs.list()).filter((r) => r.id === a.run.id || r.id === b.run.id).map((r) => r.state)).toEqual(['failed', 'failed']);
    expect(await runs.active()).toEqual([]);
    // The scope is free again.
    expect(await runs.create({ entity: 'a', force: false })).toHaveProperty('run');
  });

  it('a single read (get, list or active) is enough to end a lost run', async () => {
    const c = await runs.create({ entity: 'c', force: false });
    if (!('run' in c)) throw new Error('conflict');
    await obliterateQueues(prefix);
    expect((await runs.list()).find((r) => r.id === c.run.id)).toMatchObject({ state: 'failed', error: LOST_IN_REDIS });
    const d = await runs.create({ entity: 'd', force: false });
    if (!('run' in d)) throw new Error('conflict');
    // A planner writing its cursor after the flush recreates a partial hash: still lost.
    await obliterateQueues(prefix);
    await runs.advancePlanner(d.run.id, { cursor: '00000000-0000-0000-0000-000000000000', page: 1, planned: 5 });
    expect(await runs.active()).toEqual([]);
    expect(await row(d.run.id)).toMatchObject({ state: 'failed', error: LOST_IN_REDIS });
  });

  it('answers from Postgres within its bound when Redis does not answer, and refuses to start a run', async () => {
    const created = await runs.create({ entity: 'e', force: false });
    if (!('run' in created)) throw new Error('conflict');
    // Port 1: nothing listens; ioredis keeps retrying and queues commands offline.
    const away = createRedis('redis://127.0.0.1:1');
    away.on('error', () => undefined);
    const blind = new ReindexRunStore(away, db.pool, prefix, 300);
    try {
      const t0 = Date.now();
      expect(await blind.get(created.run.id)).toMatchObject({ id: created.run.id, state: 'queued', finishedAt: null });
      expect((await blind.list()).map((r) => r.id)).toContain(created.run.id);
      expect(Date.now() - t0).toBeLessThan(5000);
      // Not marked lost: Redis did not say it was gone.
      expect(await row(created.run.id)).toMatchObject({ state: 'queued', finished_at: null });
      await expect(blind.active()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/did not answer within 300 ms/) });
      await expect(blind.create({ entity: 'f', force: false })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/^Redis is not connected/) });
      await expect(blind.finish(created.run.id, 'cancelled')).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      away.disconnect();
    }
    expect((await runs.get(created.run.id))!.state).toBe('queued');
  });
});
