import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, HashProvider, SearchEngine } from '@kameleondb/core';
import { normalizeText } from '../src/content/normalizeText.js';
import { textHash } from '../src/content/textHash.js';
import { CacheWriteBehind } from '../src/cache/CacheWriteBehind.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { createSearchDatabase, type SearchDatabase } from '../../../test-support/searchDatabase.js';

/** The hash provider, counting the texts it is asked to embed. */
class CountingProvider extends HashProvider {
  texts = 0;
  override async embed(texts: readonly string[]): Promise<Float32Array[]> {
    this.texts += texts.length;
    return super.embed(texts);
  }
}

describe('query vectors: cached in process and through the embedding cache', () => {
  let db: TestDatabase;
  let pool: ReturnType<typeof createPool>;
  const cached = async (modelKey: string, hashes: string[]) =>
    (
      await db.pool.query<{ text_hash: string; embedding: string }>(
        'SELECT text_hash, embedding::text AS embedding FROM kdb_embedding_cache WHERE model_key = $1 AND text_hash = ANY($2::text[]) ORDER BY text_hash',
        [modelKey, hashes],
      )
    ).rows;

  let search: SearchDatabase;
  beforeAll(async () => {
    search = await createSearchDatabase();
    ({ db, pool } = search);
  });
  afterAll(() => search.close());

  it('embeds a query once per process, and another process takes it from the embedding cache', async () => {
    const q = 'Where is  Order #12345?';
    const first = new CountingProvider();
    const api1 = new SearchEngine({ pool, provider: first });
    await api1.search({ q, entities: ['docs'], mode: 'vector', limit: 5 });
    await api1.search({ q: '  Where is Order #12345? ', entities: ['docs'], mode: 'hybrid', limit: 5 }); // the same normal form
    expect(first.texts).toBe(1);

    await api1.close();
    const key = textHash(normalizeText(q));
    const [row] = await cached(first.modelKey, [key]);
    expect(JSON.parse(row!.embedding)).toEqual(Array.from(first.embedOne(normalizeText(q))).map((x) => expect.closeTo(x, 6)));

    const second = new CountingProvider();
    const api2 = new SearchEngine({ pool, provider: second });
    await api2.search({ q, entities: ['docs'], mode: 'vector', limit: 5 });
    expect(second.texts).toBe(0);
  });

  it('writes behind: nothing until the delay or the batch size, then every pending entry in one transaction', async () => {
    const provider = new HashProvider();
    const entry = (text: string) => ({ hash: textHash(text), vector: provider.embedOne(text) });
    const modelKey = 'test/write-behind';
    const slow = new CacheWriteBehind(pool, modelKey, { delayMs: 60_000, maxPending: 3 });
    const [a, b, c] = ['alpha', 'beta', 'gamma'].map(entry);
    slow.add(a!);
    slow.add(b!);
    slow.add(a!); // the same text twice: one entry
    await new Promise((r) => setTimeout(r, 100));
    expect(await cached(modelKey, [a!.hash, b!.hash])).toEqual([]);
    slow.add(c!); // the third entry reaches maxPending: written now
    await slow.flush();
    expect((await cached(modelKey, [a!.hash, b!.hash, c!.hash])).map((r) => r.text_hash).sort()).toEqual([a!.hash, b!.hash, c!.hash].sort());

    const timed = new CacheWriteBehind(pool, modelKey, { delayMs: 50 });
    const d = entry('delta');
    timed.add(d);
    const deadline = Date.now() + 5000;
    while ((await cached(modelKey, [d.hash])).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await cached(modelKey, [d.hash])).toHaveLength(1);
  });

  it('close() writes the pending query vectors; a search after it still answers, without queueing a write', async () => {
    const provider = new CountingProvider();
    const engine = new SearchEngine({ pool, provider });
    await engine.search({ q: 'closing words', entities: ['docs'], mode: 'vector', limit: 5 });
    await engine.close();
    const written = textHash(normalizeText('closing words'));
    expect(await cached(provider.modelKey, [written])).toHaveLength(1);

    await engine.search({ q: 'after the close', entities: ['docs'], mode: 'hybrid', limit: 5 });
    await new Promise((r) => setTimeout(r, 400)); // past the write-behind delay
    expect(await cached(provider.modelKey, [textHash(normalizeText('after the close'))])).toEqual([]);
  });
});
