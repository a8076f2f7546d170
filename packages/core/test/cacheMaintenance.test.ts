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
