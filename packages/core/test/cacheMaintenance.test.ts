import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearCache, HashProvider, startMaintenance } from '@kameleondb/core';
import { evictCache } from '../src/cache/cacheAdmin.js';
import { withTransaction } from '../src/store/withTransaction.js';
import { insertCacheEntries } from '../src/cache/embeddingCache.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';
import { until } from '../../../test-support/http.js';

describe('cache eviction', () => {
  let db: TestDatabase;
  const provider = new HashProvider({ dimensions: 384 });
  const fill = async (n: number, daysAgo: (i: number) => number) => {
    await db.pool.query('DELETE FROM kdb_embedding_cache');
    const entries = Array.from({ length: n }, (_, i) => ({ hash: `h${String(i).padStart(4, '0')}`, vector: provider.embedOne(`t ${i}`) }));
    await withTransaction(db.pool, (c) => insertCacheEntries(c, 'hash:x:384', entries));
    await db.pool.query(
      `UPDATE kdb_embedding_cache_usage u SET last_used_at = now() - make_interval(days => t.d)
         FROM unnest($1::text[], $2::int[]) AS t(h, d) WHERE u.text_hash = t.h`,
      [entries.map((e) => e.hash), entries.map((_, i) => daysAgo(i))],
    );
  };
  const remaining = async () => (await db.pool.query<{ text_hash: string }>('SELECT text_hash FROM kdb_embedding_cache ORDER BY text_hash')).rows.map((r) => r.text_hash);

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.close());

  it('evicts by age of last use, then the least recently used beyond the cap', async () => {
    await fill(10, (i) => i * 10); // h0000 used today … h0009 used 90 days ago
    expect(await evictCache(db.pool, { maxAgeMs: 45 * 86_400_000, maxEntries: 3 })).toEqual({ byAge: 5, bySize: 2 });
    expect(await remaining()).toEqual(['h0000', 'h0001', 'h0002']);
  });

  it('clears by age and model key', async () => {
    await fill(4, (i) => i * 20);
    expect(await clearCache(db.pool, { olderThanMs: 30 * 86_400_000, modelKey: 'other:m:1' })).toBe(0);
    expect(await clearCache(db.pool, { olderThanMs: 30 * 86_400_000 })).toBe(2);
    expect(await clearCache(db.pool, {})).toBe(2);
  });

  for (const [how, remove] of [
    ['clearCache', () => clearCache(db.pool, {})],
    ['evictCache by size', async () => (await evictCache(db.pool, { maxEntries: 0 })).bySize],
  ] as const) {
    it(`${how} beside a hit on the same entries waits for the hit instead of deadlocking`, async () => {
      await db.pool.query('DELETE FROM kdb_embedding_cache');
      // Heap order (the delete's scan) the reverse of hash order (a hit's lock order): h9, then h1.
      for (const hash of ['h9', 'h1']) await withTransaction(db.pool, (c) => insertCacheEntries(c, 'hash:x:384', [{ hash, vector: provider.embedOne(hash) }]));
      const hit = await db.pool.connect();
      try {
        await hit.query('BEGIN');
        // touchCachedHashes over [h1, h9] locks their usage rows in hash order: h1 first…
        const lock = (hash: string) => hit.query(`SELECT 1 FROM kdb_embedding_cache_usage WHERE model_key = 'hash:x:384' AND text_hash = $1 FOR NO KEY UPDATE`, [hash]);
        await lock('h1');
        const removing = remove().then(
          (n) => ({ n }),
          (err: Error) => ({ err: err.message }),
        );
        // …while the delete gets as far as it can (it waits on a row lock)…
        await until(async () => (await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rowCount, 10_000);
        // …then h9. A delete holding h9 by then, waiting on h1, is a deadlock: one of the two is aborted.
        const second = await lock('h9').then(
          () => ({}),
          (err: Error) => ({ err: err.message }),
        );
        await hit.query('COMMIT');
        expect(second).toEqual({});
        expect(await removing).toEqual({ n: 2 });
        expect(await remaining()).toEqual([]);
      } finally {
        hit.release();
      }
    });
  }

  it('runs as a repeatable maintenance job', async () => {
    await fill(20, (i) => i);
    const prefix = testPrefix();
    const m = await startMaintenance({ pool: db.pool, redis: redisUrl(), prefix, logger: pino({ level: 'silent' }), everyMs: 200, cacheMaxEntries: 5 });
    try {
      await until(async () => (await remaining()).length === 5, 15_000);
      expect(await remaining()).toEqual(['h0000', 'h0001', 'h0002', 'h0003', 'h0004']);
    } finally {
      await m.close();
      await obliterateQueues(prefix);
    }
  });
});
