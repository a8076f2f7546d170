import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEntity,
  HashProvider,
  ProviderError,
  patchRecord,
  type Entity,
} from '@kameleondb/core';
import { embedBatch, EMPTY_TEXT_ERROR } from '../src/batching/embedBatch.js';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';

/** The real hash provider, counting what it is asked. */
class CountingProvider extends HashProvider {
  calls: string[][] = [];
  failOn: string | undefined;
  override async embed(texts: readonly string[]) {
    this.calls.push([...texts]);
    if (this.failOn && texts.some((t) => t.includes(this.failOn!))) {
      throw new ProviderError(`input rejected: contains ${this.failOn}`, { retryable: false, status: 400 });
    }
    return super.embed(texts);
  }
}

describe('embedBatch', () => {
  let db: TestDatabase;
  let entity: Entity;
  const insert = (records: Record<string, unknown>[]) => ingestTestRecords(db.pool, entity, records);

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'notes', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] });
  });
  afterAll(() => db.close());

  it('dedupes texts, calls the provider only for cache misses, writes the exact vectors', async () => {
    const provider = new CountingProvider({ maxInputs: 4 });
    const ids = await insert(Array.from({ length: 1000 }, (_, i) => ({ title: `topic ${i % 10}` })));
    const r = await embedBatch({ pool: db.pool, provider, ids });
    expect(r).toMatchObject({ rows: 1000, written: 1000, embedded: 10, cached: 0, failed: 0, requests: 3 });
    expect(provider.calls.map((c) => c.length)).toEqual([4, 4, 2]);
    const rows = await readVectors(db.pool, ids);
    for (const row of rows.values()) {
      expect(row.status).toBe('ready');
      expect(row.vector).toEqual(Array.from(provider.embedOne(row.content)));
    }
    // Same texts under new ids: all from the cache, no provider call.
    provider.calls = [];
    const again = await insert(Array.from({ length: 50 }, (_, i) => ({ title: `topic ${i % 10}` })));
    expect(await embedBatch({ pool: db.pool, provider, ids: again })).toMatchObject({ written: 50, embedded: 0, cached: 10, requests: 0 });
    expect(provider.calls).toEqual([]);
    const hits = await db.pool.query(`SELECT sum(hits)::int AS hits, count(*)::int AS n FROM kdb_embedding_cache_usage`);
    expect(hits.rows[0]).toEqual({ hits: 10, n: 10 });
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM kdb_embedding_cache`)).rows[0]).toEqual({ n: 10 });
  });

  it('skips rows already embedded for this text and model (a redelivered job costs nothing)', async () => {
    const provider = new CountingProvider();
    const ids = await insert([{ title: 'once only' }]);
    await embedBatch({ pool: db.pool, provider, ids });
    expect(await embedBatch({ pool: db.pool, provider, ids })).toMatchObject({ rows: 0, written: 0, requests: 0 });
    expect(provider.calls).toHaveLength(1);
  });

  it('never writes a vector computed from an older text over newer content', async () => {
    const [id] = await insert([{ title: 'old text' }]);
    // The provider is slow; while it works, the record is edited.
    const provider = new (class extends HashProvider {
      override async embed(texts: readonly string[]) {
        await patchRecord(db.pool, entity, id!, { title: 'new text' });
        return super.embed(texts);
      }
    })();
    const r = await embedBatch({ pool: db.pool, provider, ids: [id!] });
    expect(r.written).toBe(0);
    let row = (await readVectors(db.pool, [id!])).get(id!)!;
    expect(row).toMatchObject({ status: 'pending', vector: null, content: 'title: new text' });
    await embedBatch({ pool: db.pool, provider: new HashProvider(), ids: [id!] });
    row = (await readVectors(db.pool, [id!])).get(id!)!;
    expect(row.vector).toEqual(Array.from(new HashProvider().embedOne('title: new text')));
  });

  it('marks empty texts failed without sending them, and isolates a permanent provider error to its rows', async () => {
    const provider = new CountingProvider({ maxInputs: 1 });
    provider.failOn = 'poison';
    const ids = await insert([{ title: '' }, { title: 'fine one' }, { title: 'poison pill' }, { body: 'fine two' }]);
    const r = await embedBatch({ pool: db.pool, provider, ids });
    expect(r).toMatchObject({ rows: 4, written: 2, failed: 2 });
    expect(provider.calls.flat()).not.toContain('');
    const rows = await readVectors(db.pool, ids);
    expect(rows.get(ids[0]!)).toMatchObject({ status: 'failed', error: EMPTY_TEXT_ERROR, vector: null });
    expect(rows.get(ids[1]!)!.status).toBe('ready');
    expect(rows.get(ids[2]!)).toMatchObject({ status: 'failed', error: 'input rejected: contains poison' });
    expect(rows.get(ids[3]!)!.status).toBe('ready');
  });

  it('bisects a batch rejected for one input: only that row fails, every other row is embedded', async () => {
    const provider = new CountingProvider({ maxInputs: 16 });
    provider.failOn = 'poison';
    const ids = await insert(Array.from({ length: 16 }, (_, i) => ({ title: i === 11 ? 'poison apple' : `good ${i}` })));
    const r = await embedBatch({ pool: db.pool, provider, ids });
    expect(r).toMatchObject({ rows: 16, written: 15, failed: 1 });
    // 16, then two halves at each of log2(16) levels: the bad input is alone after 4 halvings.
    expect(provider.calls).toHaveLength(9);
    expect(provider.calls.map((c) => c.length).sort((a, b) => b - a)).toEqual([16, 8, 8, 4, 4, 2, 2, 1, 1]);
    expect(provider.calls.filter((c) => c.some((t) => t.includes('poison'))).map((c) => c.length)).toEqual([16, 8, 4, 2, 1]);
    const rows = await readVectors(db.pool, ids);
    expect(rows.get(ids[11]!)).toMatchObject({ status: 'failed', error: 'input rejected: contains poison' });
    expect([...rows.values()].filter((x) => x.status === 'ready')).toHaveLength(15);
  });

  it('propagates a retryable error and keeps the vectors of requests that succeeded', async () => {
    let n = 0;
    const provider = new (class extends HashProvider {
      override async embed(texts: readonly string[]) {
        if (++n === 2) throw new ProviderError('provider answered 503', { retryable: true, status: 503 });
        return super.embed(texts);
      }
    })({ maxInputs: 1 });
    const ids = await insert([{ title: 'retry a' }, { title: 'retry b' }]);
    await expect(embedBatch({ pool: db.pool, provider, ids })).rejects.toThrow(/503/);
    const rows = await readVectors(db.pool, ids);
    expect([...rows.values()].map((r) => r.status)).toEqual(['pending', 'pending']);
    const cached = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_embedding_cache WHERE model_key = $1`, [provider.modelKey]);
    const second = await embedBatch({ pool: db.pool, provider: new CountingProvider(), ids });
    expect(second).toMatchObject({ written: 2, cached: 1, embedded: 1 });
    expect(cached.rows[0].n).toBeGreaterThan(0);
  });
});
