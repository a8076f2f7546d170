import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashProvider } from '@kameleondb/core';
import { insertCacheEntries, touchCachedHashes, touchCachedRows, type CacheEntry } from '../src/cache/embeddingCache.js';
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
   * Runs `a` and `b` so that their statements on `table` start
   * together: a third session holds a SHARE lock on the table (which every
   * INSERT and UPDATE waits for) until both wait on it. Without that, the one
   * that started first might be done before the other reached the table.
   */
  async function together<T>(table: string, a: () => Promise<T>, b: () => Promise<T>): Promise<PromiseSettledResult<T>[]> {
    const gate = await db.pool.connect();
    try {
      await gate.query('BEGIN');
      await gate.query(`LOCK TABLE ${table} IN SHARE MODE`);
      const both = Promise.allSettled([a(), b()]);
      await until(async () => {
        const { rows } = await gate.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND mode = 'RowExclusiveLock' AND NOT granted`,
          [table],
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
      'kdb_embedding_cache',
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
    // Each entry has its one usage row, however many transactions tried to add it.
    const usage = await db.pool.query<{ n: number; distinct: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT text_hash)::int AS distinct FROM kdb_embedding_cache_usage WHERE model_key = $1',
      [MODEL],
    );
    expect(usage.rows[0]).toEqual({ n: N, distinct: N });
  });

  it('two batches counting hits on the same texts through different plans both succeed and count every hit', async () => {
    await db.pool.query('DELETE FROM kdb_embedding_cache');
    // Usage rows stored in descending hash order: a sequential scan meets them
    // in the opposite order of an index scan of the primary key. (The entries
    // go in in hash order, and so would their usage rows: they are rewritten
    // here, as rows end up after updates and deletes.)
    await withTransaction(db.pool, (c) => insertCacheEntries(c, MODEL, entries));
    await db.pool.query('DELETE FROM kdb_embedding_cache_usage');
    await db.pool.query(
      'INSERT INTO kdb_embedding_cache_usage (model_key, text_hash) SELECT model_key, text_hash FROM kdb_embedding_cache ORDER BY text_hash DESC',
    );
    await db.pool.query('VACUUM ANALYZE kdb_embedding_cache_usage');
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
      // Hits are counted on the usage rows, where the two batches meet.
      const results = await together(
        'kdb_embedding_cache_usage',
        () => touchCachedHashes(byIndex, MODEL, hashes),
        () => touchCachedHashes(byHeap, MODEL, hashes),
      );
      expect(errorsOf(results)).toEqual([]);
      for (const r of results) expect(r.status === 'fulfilled' ? r.value.size : 0).toBe(N);
      const { rows } = await db.pool.query<{ n: number; twice: number }>(
        'SELECT count(*)::int AS n, (count(*) FILTER (WHERE hits = 2))::int AS twice FROM kdb_embedding_cache_usage WHERE model_key = $1',
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

/**
 * A hit writes the entry's usage (hits, last use) and nothing else: a new
 * version of the entry's own row would copy its vector, and the index on the
 * time of last use would rule out a HOT update of it.
 */
describe('embedding cache hits', () => {
  let db: TestDatabase;
  const provider = new HashProvider({ dimensions: 384 });
  const MODEL = 'hash:x:384';
  const hashes = ['ha', 'hb', 'hc'];

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.close());

  const entryRows = async () =>
    (
      await db.pool.query<{ text_hash: string; xmin: string; ctid: string }>(
        'SELECT text_hash, xmin::text, ctid::text FROM kdb_embedding_cache WHERE model_key = $1 ORDER BY text_hash',
        [MODEL],
      )
    ).rows;
  const usageRows = async () =>
    (
      await db.pool.query<{ text_hash: string; hits: number; last_used_at: Date }>(
        'SELECT text_hash, hits::int, last_used_at FROM kdb_embedding_cache_usage WHERE model_key = $1 ORDER BY text_hash',
        [MODEL],
      )
    ).rows;

  it('a worker\'s hit leaves the entry\'s row (its vector) as it was and counts on its usage row', async () => {
    await withTransaction(db.pool, (c) => insertCacheEntries(c, MODEL, hashes.map((hash) => ({ hash, vector: provider.embedOne(hash) }))));
    const before = await entryRows();
    expect(await usageRows()).toEqual(hashes.map((text_hash) => ({ text_hash, hits: 0, last_used_at: expect.any(Date) })));
    const firstUse = await usageRows();
    await db.pool.query('SELECT pg_sleep(0.01)');

    expect([...(await touchCachedHashes(db.pool, MODEL, ['hb', 'hc', 'missing']))].sort()).toEqual(['hb', 'hc']);
    expect(await entryRows()).toEqual(before);
    const after = await usageRows();
    expect(after.map((u) => [u.text_hash, u.hits])).toEqual([['ha', 0], ['hb', 1], ['hc', 1]]);
    expect(after[0]!.last_used_at).toEqual(firstUse[0]!.last_used_at);
    for (const i of [1, 2]) expect(after[i]!.last_used_at.getTime()).toBeGreaterThan(firstUse[i]!.last_used_at.getTime());
  });

  it('an ingest\'s hit on rows that took cached vectors leaves the entry\'s row as it was and counts on its usage row', async () => {
    const before = await entryRows();
    const ids = ['018f0000-0000-7000-8000-000000000001', '018f0000-0000-7000-8000-000000000002'];
    // Rows as an ingest of the texts ha and hb leaves them (touchCachedRows reads their content_hash).
    await db.pool.query(`INSERT INTO kdb_entities (name, fields, embed_fields) VALUES ('e', '{}', '{text}')`);
    await db.pool.query(`INSERT INTO kdb_records (id, entity, data) SELECT id, 'e', '{}' FROM unnest($1::uuid[]) AS id`, [ids]);
    await db.pool.query(
      `INSERT INTO kdb_search (record_id, entity, content, content_hash, doc_len, status)
       SELECT id, 'e', 'text', h, 1, 'ready' FROM unnest($1::uuid[], $2::text[]) AS t(id, h)`,
      [ids, ['ha', 'hb']],
    );
    expect(await touchCachedRows(db.pool, MODEL, ids)).toBe(2);
    expect(await entryRows()).toEqual(before);
    expect((await usageRows()).map((u) => [u.text_hash, u.hits])).toEqual([['ha', 1], ['hb', 2], ['hc', 1]]);
  });
});
