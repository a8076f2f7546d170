import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BM25_B, BM25_K1, createEntity, keywordTopK, readStatsAndHeads, tokenize, type Entity } from '@kameleondb/core';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

/**
 * The pruned top-k against the full BM25 ranking computed here from the
 * documents, on a corpus built for ties: most documents share one length, a
 * common term is in 60% of them, and terms repeat (tf 1 to 3).
 */
describe('keywordTopK: exact top-k without reading every posting', () => {
  let db: TestDatabase;
  let entity: Entity;
  const docs = new Map<string, string[]>(); // id → tokens
  let n = 0;
  let avgdl = 0;
  const df = new Map<string, number>();

  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'notes', fields: { body: 'text' }, embedFields: ['body'] });
    const records = Array.from({ length: 3000 }, (_, i) => {
      const words: string[] = [];
      if (rand() < 0.6) words.push('common');
      if (rand() < 0.1) words.push('common', 'common');
      if (rand() < 0.2) words.push(`mid${i % 7}`);
      if (i % 97 === 0) words.push('rare');
      while (words.length < (rand() < 0.8 ? 6 : 5 + Math.floor(rand() * 4))) words.push(`w${Math.floor(rand() * 400)}`);
      return { body: words.join(' ') };
    });
    await ingestTestRecords(db.pool, entity, records);
    const { rows } = await db.pool.query<{ record_id: string; content: string }>('SELECT record_id, content FROM kdb_search');
    for (const r of rows) docs.set(r.record_id, tokenize(r.content));
    n = docs.size;
    avgdl = [...docs.values()].reduce((s, t) => s + t.length, 0) / n;
    for (const t of docs.values()) for (const term of new Set(t)) df.set(term, (df.get(term) ?? 0) + 1);
  });
  afterAll(() => db.close());

  const idfOf = (t: string) => Math.log(1 + (n - df.get(t)! + 0.5) / (df.get(t)! + 0.5));
  /** Every document scored from the formula; score desc, id asc. */
  const fullRanking = (terms: string[]) =>
    [...docs.entries()]
      .map(([id, toks]) => {
        let score = 0;
        for (const t of terms) {
          const tf = toks.filter((x) => x === t).length;
          if (tf) score += (idfOf(t) * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * toks.length) / avgdl));
        }
        return { id, score };
      })
      .filter((d) => d.score > 0)
      .sort((x, y) => (Math.abs(x.score - y.score) > 1e-12 ? y.score - x.score : x.id < y.id ? -1 : 1));

  const queries = [['common'], ['common', 'rare'], ['common', 'mid3'], ['mid1', 'mid2', 'common'], ['w17', 'common'], ['rare'], ['w5', 'w6', 'w7']];
  for (const terms of queries) {
    for (const [k, withDf] of [[1, true], [10, true], [40, true], [10, false]] as const) {
      it(`"${terms.join(' ')}" top ${k}${withDf ? '' : ' (no df: rare terms read by depth too)'} equals the full ranking, ids and scores`, async () => {
        const top = await keywordTopK(db.pool, {
          entities: ['notes'],
          terms: terms.map((term) => ({ term, idf: idfOf(term), ...(withDf ? { df: df.get(term)! } : {}) })),
          k,
          k1: BM25_K1,
          b: BM25_B,
          avgdl,
        });
        const want = fullRanking(terms).slice(0, k);
        expect(top.hits.map((h) => h.id)).toEqual(want.map((w) => w.id));
        top.hits.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 9));
      });
    }
  }

  it('reads a small part of a common term: it proves the top 10 from far fewer documents than contain it', async () => {
    const top = await keywordTopK(db.pool, { entities: ['notes'], terms: [{ term: 'common', idf: idfOf('common') }], k: 10, k1: BM25_K1, b: BM25_B, avgdl });
    expect(df.get('common')).toBeGreaterThan(1500);
    expect(top.rounds).toBe(1);
    expect(top.candidates).toBeLessThan(100);
  });

  it('looks up other terms only for candidates that can still reach the top k', async () => {
    const terms = ['common', 'rare'];
    const top = await keywordTopK(db.pool, {
      entities: ['notes'],
      terms: terms.map((term) => ({ term, idf: idfOf(term), df: df.get(term)! })),
      k: 10,
      k1: BM25_K1,
      b: BM25_B,
      avgdl,
    });
    // "rare" is read whole; documents seen only through "common" hold no "rare" and cannot
    // pass the tenth "rare" document, so only "rare" documents not yet seen with "common" are looked up.
    expect(top.hits.map((h) => h.id)).toEqual(fullRanking(terms).slice(0, 10).map((w) => w.id));
    expect(top.lookedUp).toBeGreaterThan(0);
    expect(top.lookedUp).toBeLessThanOrEqual(df.get('rare')!);
    expect(top.candidates).toBeGreaterThan(top.lookedUp + 20);
    expect((top.queries[1]!.values[0] as string[]).length).toBe(top.lookedUp);
  });

  it('goes deeper instead of giving up: later rounds read on from each frontier, never a posting twice', async () => {
    const terms = ['common', 'mid3'];
    const top = await keywordTopK(db.pool, {
      entities: ['notes'],
      terms: terms.map((term) => ({ term, idf: idfOf(term) })),
      k: 40,
      k1: BM25_K1,
      b: BM25_B,
      avgdl,
    });
    expect(top.rounds).toBeGreaterThan(1);
    expect(top.hits.map((h) => h.id)).toEqual(fullRanking(terms).slice(0, 40).map((w) => w.id));
    // Each round reads again only the frontier posting of each group it goes on with.
    expect(top.postingsRead).toBeLessThanOrEqual(df.get('common')! + df.get('mid3')! + top.groups * (top.rounds - 1));
  });

  it('reads the statistics and the first round in one statement: the same statistics, the same top k', async () => {
    const terms = ['common', 'rare', 'mid3', 'absent'];
    const first = await readStatsAndHeads(db.pool, { entities: ['notes'], terms, k: 40 });
    expect(first.documents).toBe(n);
    expect(first.totalLength / first.documents).toBeCloseTo(avgdl, 9);
    expect(Object.fromEntries(first.df)).toEqual({ common: df.get('common'), rare: df.get('rare'), mid3: df.get('mid3'), absent: 0 });
    const present = terms.filter((t) => df.has(t)).map((term) => ({ term, idf: idfOf(term), df: df.get(term)! }));
    const opts = { entities: ['notes'], terms: present, k: 40, k1: BM25_K1, b: BM25_B, avgdl };
    const withFirst = await keywordTopK(db.pool, { ...opts, firstRound: first.heads, firstRoundQuery: first.query });
    const alone = await keywordTopK(db.pool, opts);
    expect(withFirst.hits).toEqual(alone.hits);
    expect(withFirst.hits!.map((h) => h.id)).toEqual(fullRanking(terms.slice(0, 3)).slice(0, 40).map((w) => w.id));
    expect(withFirst.queries[0]!.text).toBe(first.query.text);
  });
});
