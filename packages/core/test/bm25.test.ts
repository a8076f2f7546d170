import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntity, deleteRecord, HashProvider, patchRecord, SearchEngine, tokenize, type Entity } from '@kameleondb/core';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createPool } from '@kameleondb/core';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

const CORPUS = [
  'The quick brown fox jumps over the lazy dog',
  'A quick brown dog outpaces a quick red fox',
  'Lazy afternoons: the dog sleeps, the fox does not',
  'Order #12345 shipped to jane.doe@example.com',
  'Invoice for order 12345 and order 12346',
  'SKU AB-1234-X restocked; AB-1234-Y sold out',
  'Brown bread recipe with quick yeast',
  'Le renard brun rapide saute par-dessus le chien paresseux',
  'Fox News is not about foxes',
  'dog dog dog dog dog',
];

/** BM25 computed from the formula, independently of the engine. */
function bm25(docs: string[], query: string, stats: { n: number; avgdl: number; df: Map<string, number> }) {
  const terms = [...new Set(tokenize(query))];
  return docs.map((d) => {
    const toks = tokenize(d);
    const len = toks.length;
    let score = 0;
    for (const t of terms) {
      const tf = toks.filter((x) => x === t).length;
      if (!tf) continue;
      const df = stats.df.get(t)!;
      const idf = Math.log(1 + (stats.n - df + 0.5) / (df + 0.5));
      score += (idf * tf * (1.2 + 1)) / (tf + 1.2 * (1 - 0.75 + (0.75 * len) / stats.avgdl));
    }
    return score;
  });
}

function corpusStats(docs: string[]) {
  const toks = docs.map(tokenize);
  const df = new Map<string, number>();
  for (const t of toks) for (const term of new Set(t)) df.set(term, (df.get(term) ?? 0) + 1);
  return { n: docs.length, avgdl: toks.reduce((s, t) => s + t.length, 0) / docs.length, df };
}

describe('keyword search is Okapi BM25, exactly', () => {
  let db: TestDatabase;
  let engine: SearchEngine;
  let entity: Entity;
  let ids: string[];
  let texts: Map<string, string>;
  let pool: ReturnType<typeof createPool>;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql(100) });
    engine = new SearchEngine({ pool, provider: new HashProvider() });
    entity = await createEntity(db.pool, { name: 'docs', fields: { text: 'text' }, embedFields: ['text'] });
    await createEntity(db.pool, { name: 'other', fields: { text: 'text' }, embedFields: ['text'] });
    ids = await ingestTestRecords(db.pool, entity, CORPUS.map((text) => ({ text })));
    await ingestTestRecords(db.pool, { ...entity, name: 'other' }, [{ text: 'quick quick fox in another entity' }]);
    texts = new Map(ids.map((id, i) => [id, `text: ${CORPUS[i]}`]));
  });
  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  async function check(query: string) {
    const docs = [...texts.values()];
    const stats = corpusStats(docs);
    const answer = await engine.search({ q: query, entities: ['docs'], mode: 'keyword', limit: 100, explain: true });
    const reported = answer.explain!.bm25!;
    expect(reported.documents).toBe(stats.n);
    expect(reported.avgDocLength).toBeCloseTo(stats.avgdl, 9);
    for (const t of reported.terms) expect(t.df).toBe(stats.df.get(t.term) ?? 0);
    const expected = bm25(docs, query, stats);
    const want = [...texts.keys()]
      .map((id, i) => ({ id, score: expected[i]! }))
      .filter((x) => x.score > 0)
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    expect(answer.results.map((r) => r.id)).toEqual(want.map((w) => w.id));
    answer.results.forEach((r, i) => expect(Math.abs(r.score - want[i]!.score)).toBeLessThan(1e-6));
    return answer;
  }

  it('matches the formula for single and multi-term queries, with the statistics the engine reports', async () => {
    for (const q of ['fox', 'quick brown fox', 'lazy dog', 'dog', 'renard brun', 'bread yeast quick']) await check(q);
  });

  it('finds exact identifiers: order numbers, emails, SKUs', async () => {
    expect((await check('order #12345')).results[0]!.content).toMatch(/Order #12345 shipped/);
    expect((await check('jane.doe@example.com')).results[0]!.content).toMatch(/jane\.doe@example\.com/);
    const sku = await check('AB-1234-X');
    expect(sku.results[0]!.content).toMatch(/AB-1234-X restocked/);
  });

  it('still matches after updates and deletes (statistics follow)', async () => {
    await patchRecord(db.pool, entity, ids[0]!, { text: 'A slow green turtle' });
    texts.set(ids[0]!, 'text: A slow green turtle');
    await deleteRecord(db.pool, 'docs', ids[9]!);
    texts.delete(ids[9]!);
    await deleteRecord(db.pool, 'docs', ids[2]!);
    texts.delete(ids[2]!);
    for (const q of ['fox', 'quick brown fox', 'dog', 'turtle', 'lazy dog']) await check(q);
  });

  it('averages statistics over the searched entities', async () => {
    const both = await engine.search({ q: 'quick', entities: ['docs', 'other'], mode: 'keyword', limit: 100, explain: true });
    expect(both.explain!.bm25!.documents).toBe(texts.size + 1);
    expect(both.results.map((r) => r.entity)).toContain('other');
  });
});
