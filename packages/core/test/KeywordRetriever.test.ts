import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntity, createPool, deleteRecord, HashProvider, patchRecord, SearchEngine, type Entity } from '@kameleondb/core';
import type pg from 'pg';
import { KeywordRetriever } from '../src/search/KeywordRetriever.js';
import { Timings } from '../src/search/Timings.js';
import { ingestTestRecords as ingestRecordsAs } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

/**
 * The keyword retriever's top k against an independent full sum: a plain SQL
 * SUM of BM25 over every posting of the query terms, with N, the average
 * length and each df counted from the rows themselves (not from the
 * statistics tables the triggers keep), after interleaved inserts, PATCHes
 * and DELETEs; with and without `where`; on terms in far more than 4,096
 * documents; and on corpora of exact and near ties.
 */
const FULL_SUM_SQL = (filtered: boolean) => `
  WITH n AS (SELECT count(*)::float8 AS n, avg(doc_len)::float8 AS avgdl FROM kdb_search WHERE entity = $1),
       q AS (SELECT t.term, ln(1 + (n.n - count(p.record_id) + 0.5) / (count(p.record_id) + 0.5)) AS idf
               FROM unnest($2::text[]) AS t(term) CROSS JOIN n
               LEFT JOIN kdb_postings_of($1, $2::text[]) p ON p.term = t.term
              GROUP BY t.term, n.n)
  SELECT p.record_id AS id, sum(q.idf * p.tf * 2.2 / (p.tf + 1.2 * (1 - 0.75 + 0.75 * p.doc_len / n.avgdl))) AS score
    FROM q JOIN kdb_postings_of($1, $2::text[]) p ON p.term = q.term CROSS JOIN n
    ${filtered ? 'JOIN kdb_records r ON r.id = p.record_id AND r.data @> $3::jsonb' : ''}
   GROUP BY p.record_id`;

/** Scores equal within 1e-9 (relative) are ties, broken by id: how the engine ranks them. */
const ranking = (rows: { id: string; score: number }[]) =>
  rows.sort((x, y) => (Math.abs(x.score - y.score) > 1e-9 * Math.max(1, Math.abs(x.score)) ? y.score - x.score : x.id < y.id ? -1 : x.id > y.id ? 1 : 0));

describe.each([
  { layout: 'rows', blocksMinDocs: Number.MAX_SAFE_INTEGER },
  { layout: 'blocks', blocksMinDocs: 1 },
])('KeywordRetriever: the exact top k at any document frequency, postings as $layout', ({ layout, blocksMinDocs }) => {
  let db: TestDatabase;
  // Every ingest of the file writes its postings in this layout (PATCHed texts are rows in both).
  const ingestTestRecords = (pool: pg.Pool, entity: Entity, records: readonly Record<string, unknown>[]) => ingestRecordsAs(pool, entity, records, { blocksMinDocs });
  let pool: ReturnType<typeof createPool>;
  let engine: SearchEngine;
  let notes: Entity;

  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  // Zipf-like: a few words in most documents, a long tail of rare ones.
  const zipf = () => `z${Math.floor(Math.exp(rand() * Math.log(3000)))}`;
  const TEAMS = ['red', 'red', 'red', 'red', 'blue', 'blue', 'green', 'teal'];
  const note = () => {
    const words: string[] = [];
    if (rand() < 0.8) words.push('common');
    if (rand() < 0.15) words.push('common', 'common');
    if (rand() < 0.5) words.push('usual');
    const len = 4 + Math.floor(rand() * 20);
    while (words.length < len) words.push(zipf());
    return { body: words.sort(() => rand() - 0.5).join(' '), team: pick(TEAMS) };
  };

  async function fullSum(entity: string, terms: string[], where?: Record<string, unknown>) {
    const values: unknown[] = [entity, terms];
    if (where) values.push(JSON.stringify(where));
    const { rows } = await db.pool.query<{ id: string; score: number }>(FULL_SUM_SQL(!!where), values);
    return ranking(rows.map((r) => ({ id: r.id, score: Number(r.score) })));
  }

  async function expectExact(entity: string, q: string, limit: number, where?: Record<string, string>) {
    const answer = await engine.search({ q, entities: [entity], mode: 'keyword', limit, explain: true, ...(where ? { where } : {}) });
    const terms = answer.explain!.bm25!.terms.map((t) => t.term);
    const want = (await fullSum(entity, terms, where)).slice(0, limit);
    const label = `${q} ${where ? JSON.stringify(where) : ''} top ${limit}`;
    expect(answer.results.map((r) => r.id), label).toEqual(want.map((w) => w.id));
    answer.results.forEach((r, i) => expect(Math.abs(r.score - want[i]!.score), label).toBeLessThan(1e-9 * Math.max(1, want[i]!.score)));
    return answer.explain!.keywordPruning!;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql(100) });
    engine = new SearchEngine({ pool, provider: new HashProvider() });
    notes = await createEntity(db.pool, { name: 'notes', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    await ingestTestRecords(db.pool, notes, Array.from({ length: 6000 }, note));
  });
  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  it('stays exact under interleaved inserts, PATCHes and DELETEs, for rare, common and multi-term queries, with and without where', async () => {
    const ids = (await db.pool.query<{ id: string }>("SELECT id FROM kdb_records WHERE entity = 'notes'")).rows.map((r) => r.id);
    for (let cycle = 0; cycle < 6; cycle++) {
      // Writes in a random order of kinds, each through the path a user's request takes.
      const ops = [...Array<string>(8).fill('insert'), ...Array<string>(40).fill('patch'), ...Array<string>(40).fill('delete')].sort(() => rand() - 0.5);
      for (const op of ops) {
        if (op === 'insert') ids.push(...(await ingestTestRecords(db.pool, notes, Array.from({ length: 40 }, note))));
        else {
          const i = Math.floor(rand() * ids.length);
          const id = ids[i]!;
          if (op === 'patch') await patchRecord(db.pool, notes, id, rand() < 0.7 ? note() : { body: 'common common common usual' });
          else {
            await deleteRecord(db.pool, 'notes', id);
            ids.splice(i, 1);
          }
        }
      }
      const queries = ['common', 'usual', 'common usual', `common ${zipf()}`, `${zipf()} ${zipf()}`, `${zipf()} usual ${zipf()}`, 'z1 z2 z3'];
      for (const q of queries) {
        await expectExact('notes', q, 10);
        await expectExact('notes', q, 100);
        await expectExact('notes', q, 10, { team: 'red' });
        await expectExact('notes', q, 10, { team: pick(['blue', 'green', 'teal']) });
      }
    }
    // The statistics the triggers kept equal a recount from the rows.
    const kept = await db.pool.query<{ n: string; len: string }>("SELECT sum(n_docs) AS n, sum(total_len) AS len FROM kdb_bm25_stats WHERE entity = 'notes'");
    const counted = await db.pool.query<{ n: string; len: string }>("SELECT count(*) AS n, sum(doc_len) AS len FROM kdb_search WHERE entity = 'notes'");
    expect(kept.rows[0]).toEqual(counted.rows[0]);
    const dfDiff = await db.pool.query(`
      SELECT coalesce(k.term, c.term) AS term FROM
        (SELECT term, sum(df) AS df FROM kdb_bm25_terms WHERE entity = 'notes' GROUP BY term HAVING sum(df) <> 0) k
        FULL JOIN (SELECT term, count(*) AS df FROM kdb_postings_of('notes') GROUP BY term) c USING (term)
       WHERE k.df IS DISTINCT FROM c.df`);
    expect(dfDiff.rows).toEqual([]);
  });

  it('reads a term in far more than 4,096 documents only in part, also with where: no full sum', async () => {
    const { rows } = await db.pool.query<{ df: number }>("SELECT count(*)::int AS df FROM kdb_postings_of('notes', '{common}')");
    expect(rows[0]!.df).toBeGreaterThan(4096);
    // Postings read: the rows read and the postings of the blocks read.
    const read = (p: { postingsRead: number; blockPostingsRead: number }) => p.postingsRead + p.blockPostingsRead;
    // Blocks are read whole, and this corpus has few lengths and tfs: the top 10 of a term are
    // ties at its best weight spread over many blocks (each holds about one), which ids decide, so
    // blocks read more of such a term than rows in impact order; never all of it.
    const part = layout === 'blocks' ? [4, 1.25, 1.25] : [10, 10, 2];
    const plain = await expectExact('notes', 'common', 10);
    expect(plain.postingsTotal).toBe(rows[0]!.df);
    expect(read(plain)).toBeLessThan(plain.postingsTotal / part[0]!);
    const filtered = await expectExact('notes', 'common', 10, { team: 'red' });
    expect(read(filtered)).toBeLessThan(filtered.postingsTotal / part[1]!);
    expect(filtered.filterChecked + filtered.blockChecked).toBeGreaterThan(0);
    const two = await expectExact('notes', 'common usual', 10);
    expect(read(two)).toBeLessThan(two.postingsTotal / part[2]!);
    if (layout === 'blocks') expect(plain.blocksRead).toBeLessThan(plain.blocks / part[0]!);
    else expect(plain.blocks).toBe(0);
  });

  it('opens only the groups of block heads that can reach the top k: a term in 20,000 documents, alone and with where', async () => {
    // One batch: "common" in every document (about 157 blocks, 5 groups of heads), once or
    // twice, but 6 times in every 97th short one of the first 2,000: the best documents sit
    // under one group.
    const wide = await createEntity(db.pool, { name: 'wide', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    const best = (i: number) => i < 2000 && i % 97 === 0;
    await ingestTestRecords(db.pool, wide, Array.from({ length: 20_000 }, (_, i) => ({
      body: [...Array<string>(best(i) ? 6 : 1 + (i % 2)).fill('common'), ...Array.from({ length: best(i) ? 3 : 3 + ((i * 104729) % 17) }, (_, j) => `w${(i + j) % 97}`)].join(' '),
      team: i % 2 ? 'many' : 'few',
    })));
    const plain = await expectExact('wide', 'common', 10);
    const filtered = await expectExact('wide', 'common', 10, { team: 'few' });
    const two = await expectExact('wide', 'common w5', 10);
    if (layout === 'blocks') {
      expect(plain.blockGroups).toBeGreaterThanOrEqual(5);
      for (const p of [plain, filtered]) expect(p.blockGroupsOpened).toBeLessThan(p.blockGroups);
      expect(plain.blocks).toBeLessThan(157);
      expect(two.blockGroups).toBeGreaterThan(plain.blockGroups);
    } else expect(plain.blockGroups).toBe(0);
  });

  it('starts the blocks\' search from the groups read with the statistics: no statement of their own', async () => {
    const fold = await createEntity(db.pool, { name: 'fold', fields: { body: 'text' }, embedFields: ['body'] });
    await ingestTestRecords(db.pool, fold, Array.from({ length: 600 }, (_, i) => ({ body: `alpha beta w${i % 13} ${'alpha '.repeat(i % 3)}` })));
    const texts: string[] = [];
    const spy = new Proxy(pool, {
      get(target, prop) {
        if (prop === 'query') {
          return (q: string | { text: string }, ...rest: unknown[]) => {
            texts.push(typeof q === 'string' ? q : q.text);
            return (target.query as (...a: unknown[]) => unknown)(q, ...rest);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const got = await new KeywordRetriever(spy).retrieve({ q: 'alpha w3', entities: ['fold'], k: 10, where: undefined, timings: new Timings() });
    const want = (await fullSum('fold', ['alpha', 'w3'])).slice(0, 10);
    expect(got.hits.map((h) => h.id)).toEqual(want.map((w) => w.id));
    const groupReads = texts.filter((t) => t.includes('FROM kdb_postings_groups'));
    expect(groupReads).toHaveLength(1);
    expect(groupReads[0]).toContain('FROM kdb_bm25_terms');
    if (layout === 'blocks') expect(got.pruning!.blockGroups).toBeGreaterThan(0);
    else expect(got.pruning!.blockGroups).toBe(0);
  });

  it('reads a common term only under the documents that hold the rarer terms, not under every posting of the rarest', async () => {
    // "rare" in every 100th document, "mid" in every 10th and in a tenth of the rare ones,
    // "common" in all: the top 5 hold all three. A block of "common" spans 128 documents,
    // among them a "mid" and often a "rare" in different documents, so a bound summing
    // each term's best over a range would read nearly every block of "common".
    const spread = await createEntity(db.pool, { name: 'spread', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    const filler = (i: number) => Array.from({ length: 8 }, (_, j) => `f${(i * 7 + j) % 50}`);
    await ingestTestRecords(db.pool, spread, Array.from({ length: 8000 }, (_, i) => {
      const words = ['common', ...filler(i)];
      if (i % 100 === 7) words.push('rare');
      if (i % 10 === 0 || i % 1000 === 7) words.push('mid', ...(i % 1000 === 7 ? ['mid'] : []));
      return { body: words.join(' '), team: i % 2 ? 'odd' : 'even' };
    }));
    const p = await expectExact('spread', 'common mid rare', 5);
    await expectExact('spread', 'common mid rare', 20);
    await expectExact('spread', 'common mid rare', 5, { team: 'odd' });
    if (layout === 'blocks') expect(p.blockPostingsRead).toBeLessThan(p.postingsTotal / 2);
  });

  it('answers a filter no record matches with nothing, and one matching a single record with that record', async () => {
    const none = await engine.search({ q: 'common usual', entities: ['notes'], mode: 'keyword', limit: 10, where: { team: 'nobody' } });
    expect(none.results).toEqual([]);
    const [only] = await ingestTestRecords(db.pool, notes, [{ body: 'common lonely', team: 'solo' }]);
    const one = await engine.search({ q: 'common', entities: ['notes'], mode: 'keyword', limit: 10, where: { team: 'solo' } });
    expect(one.results.map((r) => r.id)).toEqual([only]);
  });

  it('keeps every document of an exact tie: the smallest ids win, across many groups and rounds', async () => {
    const ties = await createEntity(db.pool, { name: 'ties', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    // 3,000 documents with the same words and length, so the same score to the last bit.
    const ids = await ingestTestRecords(db.pool, ties, Array.from({ length: 3000 }, (_, i) => ({ body: 'alpha beta gamma', team: i % 3 ? 'x' : 'y' })));
    await ingestTestRecords(db.pool, ties, Array.from({ length: 500 }, () => ({ body: 'alpha delta epsilon zeta', team: 'x' })));
    const sorted = [...ids].sort();
    for (const limit of [1, 10, 100]) {
      const answer = await engine.search({ q: 'alpha beta', entities: ['ties'], mode: 'keyword', limit });
      expect(answer.results.map((r) => r.id)).toEqual(sorted.slice(0, limit));
      await expectExact('ties', 'alpha beta', limit);
      await expectExact('ties', 'alpha', limit);
      await expectExact('ties', 'alpha beta', limit, { team: 'y' });
    }
  });

  it('keeps documents whose scores differ by float rounding only (the same weights summed in another order)', async () => {
    const near = await createEntity(db.pool, { name: 'near', fields: { body: 'text' }, embedFields: ['body'] });
    // Three terms of equal df; each document holds one of them twice and the others once, at one
    // length: the same three weights, summed in three orders, which rounding may tell apart.
    const patterns = ['aa aa bb cc', 'aa bb bb cc', 'aa bb cc cc'];
    await ingestTestRecords(db.pool, near, Array.from({ length: 1500 }, (_, i) => ({ body: patterns[i % 3]! })));
    await ingestTestRecords(db.pool, near, Array.from({ length: 300 }, (_, i) => ({ body: `aa bb cc w${i} w${i + 1}` })));
    for (const limit of [5, 50, 100]) {
      await expectExact('near', 'aa bb cc', limit);
      await expectExact('near', 'cc bb aa', limit);
      await expectExact('near', 'aa bb', limit);
    }
  });

  it('keeps tied documents of another (tf, length) group: a filter that makes the k-th come from the later group', async () => {
    const cross = await createEntity(db.pool, { name: 'cross', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    // With the average length exactly 6, tf 2 at length 6 weighs what tf 1 at length 2 weighs
    // (k1 = 1.2, b = 0.75): two impact groups of one term tie. The tf-2 documents come first, so
    // they hold the smaller ids; a filter passing one in three makes the k-th passing document
    // one of the tf-1 group while tf-2 documents with smaller ids are still unread.
    const team = (i: number) => (i % 3 ? 'x' : 'y');
    const early = await ingestTestRecords(db.pool, cross, Array.from({ length: 1200 }, (_, i) => ({ body: 'aa aa qq rr ss', team: team(i) })));
    await ingestTestRecords(db.pool, cross, Array.from({ length: 1200 }, (_, i) => ({ body: 'aa', team: team(i) })));
    await ingestTestRecords(db.pool, cross, Array.from({ length: 1200 }, () => ({ body: 'ff gg hh ii jj kk ll mm nn', team: 'x' })));
    const stats = await engine.search({ q: 'aa', entities: ['cross'], mode: 'keyword', limit: 1, explain: true });
    expect(stats.explain!.bm25!.avgDocLength).toBe(6);
    for (const limit of [10, 40]) {
      const answer = await engine.search({ q: 'aa', entities: ['cross'], mode: 'keyword', limit, where: { team: 'y' } });
      expect(answer.results.map((r) => r.id)).toEqual(early.filter((_, i) => team(i) === 'y').sort().slice(0, limit));
      await expectExact('cross', 'aa', limit, { team: 'y' });
      await expectExact('cross', 'aa', limit);
    }
  });
});
