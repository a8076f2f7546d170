import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashProvider } from '@kameleondb/core';
import { insertCacheEntries, touchCachedHashes, type CacheEntry } from '../src/cache/embeddingCache.js';
import { withTransaction } from '../src/store/withTransaction.js';
import { until } from '../../../test-support/http.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

/**
 * Two workers write the same cache rows when they embed the same texts (two
 * entities of equal documents, a re-ingest beside a PATCH). Postgres makes
 * each statement wait on a row another open transaction wrote, so two
 * statements that take the same rows in opposite orders each wait on the
 * other: deadlock_detected (40P01), and one worker's batch fails.
 */
describe('embedding cache writes on shared rows', () => {
  let db: TestDatabase;
  const provider = new HashProvider({ dimensions: 384 });
  const MODEL = 'hash:x:384';
  const N = 2000;
  const hashes = Array.from({ length: N }, (_, i) => `h${String(i).padStart(5, '0')}`);
  const entries: CacheEntry[] = hashes.map((hash) => ({ hash, vector: provider.embedOne(hash) }));

  /**
   * Runs `a` and `b` so that their statements on kdb_embedding_cache start
   * together: a third session holds a SHARE lock on the table (which every
   * INSERT and UPDATE waits for) until both wait on it. Without that, the one
   * that started first might be done before the other reached the table.
   */
  async function together<T>(a: () => Promise<T>, b: () => Promise<T>): Promise<PromiseSettledResult<T>[]> {
    const gate = await db.pool.connect();
    try {
      await gate.query('BEGIN');
      await gate.query('LOCK TABLE kdb_embedding_cache IN SHARE MODE');
      const both = Promise.allSettled([a(), b()]);
      await until(async () => {
        const { rows } = await gate.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'kdb_embedding_cache'::regclass AND mode = 'RowExclusiveLock' AND NOT granted`,
        );
        return rows[0]!.n === 2;
      }, 20_000);
      await gate.query('COMMIT');
      return await both;
    } finally {
      gate.release();
    }
  }

  const errorsOf = (results: PromiseSettledResult<unknown>[]) =>
    results.flatMap((r) => (r.status === 'rejected' ? [`${(r.reason as { code?: string }).code}: ${(r.reason as Error).message}`] : []));

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.close());

  it('two transactions inserting the same texts in opposite orders both commit, each text once', async () => {
    await db.pool.query('DELETE FROM kdb_embedding_cache');
    const results = await together(
      () => withTransaction(db.pool, (c) => insertCacheEntries(c, MODEL, entries)),
      () => withTransaction(db.pool, (c) => insertCacheEntries(c, MODEL, [...entries].reverse())),
    );
    expect(errorsOf(results)).toEqual([]);
    // Every text is inserted by exactly one of the two; the other found it there.
    const inserted = results.map((r) => (r.status === 'fulfilled' ? r.value : 0));
    expect(inserted[0]! + inserted[1]!).toBe(N);
    const { rows } = await db.pool.query<{ n: number; distinct: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT text_hash)::int AS distinct FROM kdb_embedding_cache WHERE model_key = $1',
      [MODEL],
    );
    expect(rows[0]).toEqual({ n: N, distinct: N });
  });

  it('two batches counting hits on the same texts through different plans both succeed and count every hit', async () => {
    await db.pool.query('DELETE FROM kdb_embedding_cache');
    // Rows stored in descending hash order: a sequential scan meets them in the
    // opposite order of an index scan of the primary key.
    await withTransaction(db.pool, (c) => insertCacheEntries(c, MODEL, [...entries].reverse()));
    await db.pool.query('VACUUM ANALYZE kdb_embedding_cache');
    const session = async (settings: string[]): Promise<pg.PoolClient> => {
      const c = await db.pool.connect();
      for (const s of settings) await c.query(s);
      return c;
    };
    // The planner picks its scan by the size of the batch and the table's
    // statistics; two workers' batches of different sizes get different plans.
    // Here each session is held to one of them.
    const byIndex = await session(['SET enable_seqscan = off', 'SET enable_bitmapscan = off']);
    const byHeap = await session(['SET enable_indexscan = off', 'SET enable_bitmapscan = off', 'SET enable_indexonlyscan = off']);
    try {
      const results = await together(
        () => touchCachedHashes(byIndex, MODEL, hashes),
        () => touchCachedHashes(byHeap, MODEL, hashes),
      );
      expect(errorsOf(results)).toEqual([]);
      for (const r of results) expect(r.status === 'fulfilled' ? r.value.size : 0).toBe(N);
      const { rows } = await db.pool.query<{ n: number; twice: number }>(
        'SELECT count(*)::int AS n, (count(*) FILTER (WHERE hits = 2))::int AS twice FROM kdb_embedding_cache WHERE model_key = $1',
        [MODEL],
      );
      expect(rows[0]).toEqual({ n: N, twice: N });
    } finally {
      for (const c of [byIndex, byHeap]) {
        await c.query('RESET ALL');
        c.release();
      }
    }
  });
});
