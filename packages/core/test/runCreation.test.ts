import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient, NEVER_COMMITTED, ReindexRunStore } from '@kameleondb/core';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';

/** A run created in a transaction that does not commit: what its planner and the next claim of its scope do. */
describe('a reindex run whose creation never commits', () => {
  let db: TestDatabase;
  let redis: RedisClient;
  let prefix: string;
  let runs: ReindexRunStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = createRedis(redisUrl());
    prefix = testPrefix();
    runs = new ReindexRunStore(redis, db.pool, prefix);
  });
  afterAll(async () => {
    await obliterateQueues(prefix);
    await redis.quit();
    await db.close();
  });

  it('is ended failed when its transaction rolls back, and its planner waits for the commit', async () => {
    let id = '';
    let planner: Promise<boolean> | undefined;
    await expect(
      runs.inCreation(async (tx) => {
        const r = await tx.claim({ entity: 'a', force: false });
        if (!('run' in r)) throw new Error('conflict');
        id = r.run.id;
        // A planner started before the commit waits for it.
        planner = runs.awaitCreation(id);
        await new Promise((resolve) => setTimeout(resolve, 200));
        throw new Error('the request failed after the claim');
      }),
    ).rejects.toThrow(/failed after the claim/);
    expect(await planner).toBe(false);
    expect(await runs.get(id)).toMatchObject({ state: 'failed', error: NEVER_COMMITTED });
    const next = await runs.create({ entity: 'a', force: false });
    expect(next).toHaveProperty('run');
    if ('run' in next) expect(await runs.awaitCreation(next.run.id)).toBe(true);
    if ('run' in next) await runs.finish(next.run.id, 'cancelled');
  });

  it('frees its scope at the next claim when its process died before the commit (Redis slot, no Postgres row)', async () => {
    // A process dying mid-transaction: the Redis side is written, the Postgres row never commits.
    const client = await db.pool.connect();
    await client.query('BEGIN');
    const claim = (runs as unknown as { claim(c: typeof client, o: object): Promise<{ run: { id: string } }> }).claim.bind(runs);
    const orphan = (await claim(client, { entity: 'b', force: false })).run.id;
    await client.query('ROLLBACK');
    client.release();
    expect((await runs.get(orphan))?.state).toBe('queued');

    const next = await runs.create({ entity: 'b', force: false });
    expect(next).toHaveProperty('run');
    expect(await runs.get(orphan)).toMatchObject({ state: 'failed', error: NEVER_COMMITTED });
  });
});
