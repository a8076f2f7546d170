import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BM25_B, BM25_K1, createEntity, deleteRecord, keywordTopK, patchRecord, readStatsAndHeads, tokenize, type Entity } from '@kameleondb/core';
import { ingestTestRecords as ingestRecordsAs } from '../../../test-support/ingestTestRecords.js';

// keywordTopK reads the row layout: every ingest here writes rows (KeywordRetriever.test.ts runs both layouts).
const ingestTestRecords = (pool: Parameters<typeof ingestRecordsAs>[0], entity: Parameters<typeof ingestRecordsAs>[1], records: Parameters<typeof ingestRecordsAs>[2]) =>
  ingestRecordsAs(pool, entity, records, { blocksMinDocs: Number.MAX_SAFE_INTEGER });
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

/**
 * The pruned top-k against the full BM25 ranking computed here from the
 * documents, on a corpus built for ties: most documents share one length, a
 * common term is in 60% of them, and terms repeat (tf 1 to 3).
 */

/** Every document scored from its text (statistics counted here too), score desc, ties (1e-12) by id: the reference the top-k is held to. */
function bm25Reference(docs: readonly { id: string; team: string; toks: string[] }[], terms: string[], team?: string) {
  const n = docs.length;
  const avgdl = docs.reduce((x, d) => x + d.toks.length, 0) / n;
  const df = new Map(terms.map((t) => [t, docs.filter((d) => d.toks.includes(t)).length]));
  const idf = (t: string) => Math.log(1 + (n - df.get(t)! + 0.5) / (df.get(t)! + 0.5));
  const ranked = docs
    .filter((d) => team === undefined || d.team === team)
    .map((d) => {
      let score = 0;
      for (const t of terms) {
        const tf = d.toks.filter((x) => x === t).length;
        if (tf) score += (idf(t) * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * d.toks.length) / avgdl));
      }
      return { id: d.id, score };
    })
    .filter((d) => d.score > 0)
    .sort((x, y) => (Math.abs(x.score - y.score) > 1e-12 ? y.score - x.score : x.id < y.id ? -1 : 1));
  return { ranked, avgdl, terms: terms.map((term) => ({ term, idf: idf(term), df: df.get(term)! })) };
}

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

/**
 * The two prunings of multi-term queries (MaxScore's non-essential terms and
 * pruned groups) against a full ranking computed here from the documents'
 * text, on a corpus made for them: a term in nearly every document (it turns
 * non-essential), a mid-frequency term, and 900 documents that hold three
 * terms of equal df at one length, each with another of the three twice, so
 * that their scores are the same three weights summed in three orders and
 * differ by rounding alone (or not at all): near-ties far past the k
 * boundary. Terms are read by depth (fullReadDf 16) so that rounds, prunings
 * and ties meet; writes come between the queries.
 */
describe('keywordTopK: pruned multi-term reading keeps the exact top k, near-ties at the k boundary included', () => {
  let db: TestDatabase;
  let entity: Entity;
  let seed = 23;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const TEAMS = ['red', 'red', 'blue', 'green'];
  const PATTERNS = ['aa aa bb cc', 'aa bb bb cc', 'aa bb cc cc'];
  const filler = (n: number) => Array.from({ length: n }, () => `f${Math.floor(rand() * 300)}`);
  const tied = (i: number) => ({ body: `${PATTERNS[i % 3]} common ${filler(4).join(' ')}`, team: TEAMS[i % 4]! });
  const other = () => {
    const words = filler(3 + Math.floor(rand() * 8));
    if (rand() < 0.95) words.push(...Array<string>(1 + Math.floor(rand() * 3)).fill('common'));
    if (rand() < 0.2) words.push('mid');
    // All three or none, so the three keep one df and the tied family its ties.
    if (rand() < 0.1) words.push('aa', 'bb', 'cc');
    return { body: words.sort(() => rand() - 0.5).join(' '), team: TEAMS[Math.floor(rand() * 4)]! };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'prune', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    await ingestTestRecords(db.pool, entity, Array.from({ length: 900 }, (_, i) => tied(i)));
    await ingestTestRecords(db.pool, entity, Array.from({ length: 3000 }, other));
  });
  afterAll(() => db.close());

  /** The documents as stored (text and team) per entity, read again after writes. */
  const stored = new Map<string, { id: string; team: string; toks: string[] }[]>();
  async function documents(name: string) {
    const known = stored.get(name);
    if (known) return known;
    const { rows } = await db.pool.query<{ id: string; content: string; team: string }>(
      "SELECT s.record_id AS id, s.content, r.data->>'team' AS team FROM kdb_search s JOIN kdb_records r ON r.id = s.record_id WHERE s.entity = $1",
      [name],
    );
    const docs = rows.map((r) => ({ id: r.id, team: r.team, toks: tokenize(r.content) }));
    stored.set(name, docs);
    return docs;
  }

  /** bm25Reference over the entity's documents, with only the terms some document holds. */
  async function reference(name: string, terms: string[], team?: string) {
    const ref = bm25Reference(await documents(name), terms, team);
    return { ...ref, terms: ref.terms.filter((t) => t.df > 0) };
  }

  /** The top k against the reference: tie-aware first (what a user relies on), then the exact order. */
  async function expectTopK(q: string, k: number, team?: string, name = 'prune') {
    const terms = [...new Set(tokenize(q))];
    const ref = await reference(name, terms, team);
    const top = await keywordTopK(db.pool, { entities: [name], terms: ref.terms, k, k1: BM25_K1, b: BM25_B, avgdl: ref.avgdl, fullReadDf: 16, ...(team ? { where: { team } } : {}) });
    const label = `"${q}" top ${k}${team ? ` team ${team}` : ''}`;
    const want = ref.ranked.slice(0, k);
    expect(top.hits.length, label).toBe(want.length);
    const kth = want[want.length - 1]!.score;
    const exact = new Map(ref.ranked.map((d) => [d.id, d.score]));
    // Every returned document scores at least the exact k-th (within rounding), with its exact score...
    for (const h of top.hits) {
      expect(exact.has(h.id), label).toBe(true);
      expect(Math.abs(h.score - exact.get(h.id)!), label).toBeLessThan(1e-9);
      expect(h.score, label).toBeGreaterThanOrEqual(kth - 1e-9);
    }
    // ...and no document with a strictly higher exact score is missing.
    const returned = new Set(top.hits.map((h) => h.id));
    for (const d of ref.ranked) if (d.score > kth + 1e-9) expect(returned.has(d.id), `${label}: ${d.id} (${d.score}) missing`).toBe(true);
    // Ties within rounding are broken by id, as the full ranking breaks them.
    expect(top.hits.map((h) => h.id), label).toEqual(want.map((w) => w.id));
    return { top, ref };
  }

  const QUERIES = ['aa bb cc common', 'common cc bb aa', 'common mid aa', 'aa bb common', 'mid common', 'common aa'];

  it('non-essential terms and pruned groups on near-ties: tie-aware and exact, with and without where', async () => {
    let nonEssential = 0;
    let pruned = 0;
    for (const q of QUERIES) {
      for (const k of [5, 10, 50, 300]) {
        for (const team of k === 10 ? [undefined, 'red', 'green'] : [undefined, 'red']) {
          const { top } = await expectTopK(q, k, team);
          nonEssential += top.termsNonEssential;
          pruned += top.groupsPruned;
        }
      }
    }
    // The corpus drives both prunings (else this test would not test them).
    expect(nonEssential).toBeGreaterThan(0);
    expect(pruned).toBeGreaterThan(0);
  });

  it('the tied family straddles k: the 10 returned are the smallest ids of 900 near-tied documents, the k-th ties the 11th', async () => {
    const { top, ref } = await expectTopK('aa bb cc', 10);
    const near = ref.ranked.filter((d) => Math.abs(d.score - ref.ranked[0]!.score) < 1e-12);
    expect(near.length).toBeGreaterThan(800);
    // Distinct floats among them: rounding told some apart, and the answer did not drop those.
    expect(new Set(near.map((d) => d.score)).size).toBeGreaterThan(1);
    expect(top.hits.map((h) => h.id)).toEqual(near.map((d) => d.id).sort().slice(0, 10));
  });

  it('a common term is not read past the first round once rarer terms carry the top k', async () => {
    const { top, ref } = await expectTopK('common mid aa', 10);
    const common = ref.terms.find((t) => t.term === 'common')!;
    expect(common.df).toBeGreaterThan(3000);
    expect(top.rounds).toBeGreaterThan(1);
    expect(top.termsNonEssential).toBeGreaterThan(0);
    expect(top.postingsRead).toBeLessThan(common.df / 2);
  });

  it('keeps tied documents of a group whose frontier ties the k-th exactly: a common term non-essential, the k-th from a later group', async () => {
    const cross = await createEntity(db.pool, { name: 'crossmulti', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    // Average length exactly 9 (the team is a token too; k1 = 1.2, b = 0.75): tf 2 at length 9 weighs
    // exactly what tf 1 at length 3 weighs, for "aa" and for "zz" alike, so the early documents (smaller ids, both terms
    // twice) and the later ones (once each, short) score the same to the last bit from two groups
    // of each term. "zz" is in every document (it turns non-essential); a filter passing one in
    // three makes the k-th passing document come from the later groups while early ones are unread.
    const team = (i: number) => (i % 3 ? 'x' : 'y');
    const early = await ingestTestRecords(db.pool, cross, Array.from({ length: 1200 }, (_, i) => ({ body: 'aa aa zz zz qq rr ss tt', team: team(i) })));
    await ingestTestRecords(db.pool, cross, Array.from({ length: 1200 }, (_, i) => ({ body: 'aa zz', team: team(i) })));
    await ingestTestRecords(db.pool, cross, Array.from({ length: 1200 }, () => ({ body: 'zz ff gg hh ii jj kk ll mm nn oo pp uu vv', team: 'x' })));
    const passing = early.filter((_, i) => team(i) === 'y').sort();
    for (const k of [10, 40]) {
      const { top, ref } = await expectTopK('aa zz', k, 'y', 'crossmulti');
      expect(ref.avgdl).toBe(9);
      expect(top.hits.map((h) => h.id)).toEqual(passing.slice(0, k));
      await expectTopK('zz aa', k, undefined, 'crossmulti');
    }
  });

  it('stays exact under interleaved inserts, PATCHes and DELETEs between the queries', async () => {
    const ids = (await db.pool.query<{ id: string }>("SELECT id FROM kdb_records WHERE entity = 'prune'")).rows.map((r) => r.id);
    for (let cycle = 0; cycle < 3; cycle++) {
      const ops = [...Array<string>(4).fill('insert'), ...Array<string>(30).fill('patch'), ...Array<string>(30).fill('delete')].sort(() => rand() - 0.5);
      stored.clear();
      for (const op of ops) {
        if (op === 'insert') ids.push(...(await ingestTestRecords(db.pool, entity, Array.from({ length: 30 }, (_, i) => (i % 2 ? tied(i) : other())))));
        else {
          const i = Math.floor(rand() * ids.length);
          if (op === 'patch') await patchRecord(db.pool, entity, ids[i]!, rand() < 0.5 ? tied(i) : other());
          else {
            await deleteRecord(db.pool, 'prune', ids[i]!);
            ids.splice(i, 1);
          }
        }
      }
      for (const q of QUERIES) {
        await expectTopK(q, 10);
        await expectTopK(q, 50);
        await expectTopK(q, 10, 'blue');
      }
    }
  });
});

/**
 * Rounds after the first read each essential group to a cut (the doc_len where its weight
 * falls below θ less the other terms' bounds) and bound a seen document's missing terms by
 * its own length and the groups it can still be in; lookups go one term at a time, reading
 * the term whole when that is cheaper than probing. Documents of many lengths (the cut is a
 * length) with three terms of three frequencies, as in bench:keyword's multi-term queries.
 */
describe('keywordTopK: cut reads, per-document bounds and term scans keep the exact top k', () => {
  let db: TestDatabase;
  let seed = 41;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const docs: { id: string; team: string; toks: string[] }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const entity = await createEntity(db.pool, { name: 'cuts', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
    const records = Array.from({ length: 4000 }, () => {
      const len = 5 + Math.floor(rand() * 60);
      const words: string[] = [];
      for (let i = 0; i < len; i++) {
        const r = rand();
        // "often" in most documents (tf grows with length), "some" in about one in six, "few" in about one in 40.
        words.push(r < 0.08 ? 'often' : r < 0.085 ? 'some' : r < 0.0865 ? 'few' : `f${Math.floor(rand() * 500)}`);
      }
      if (rand() < 0.1) words.push('some');
      if (rand() < 0.02) words.push('few', 'some');
      return { body: words.join(' '), team: rand() < 0.3 ? 'red' : 'blue' };
    });
    await ingestTestRecords(db.pool, entity, records);
    const { rows } = await db.pool.query<{ id: string; content: string; team: string }>(
      "SELECT s.record_id AS id, s.content, r.data->>'team' AS team FROM kdb_search s JOIN kdb_records r ON r.id = s.record_id WHERE s.entity = 'cuts'",
    );
    docs.push(...rows.map((r) => ({ id: r.id, team: r.team, toks: tokenize(r.content) })));
  });
  afterAll(() => db.close());

  const reference = (terms: string[], team?: string) => bm25Reference(docs, terms, team);

  it('three terms of three frequencies, k 1 to 200, with and without where: ids and scores of the full ranking', async () => {
    let cutRounds = 0;
    let scans = 0;
    for (const q of [['often', 'some', 'few'], ['few', 'often'], ['some', 'often'], ['few', 'some'], ['some', 'few', 'often']]) {
      for (const k of [1, 3, 10, 20, 40, 100, 200]) {
        for (const team of [undefined, 'red', 'blue']) {
          const ref = reference(q, team);
          const top = await keywordTopK(db.pool, { entities: ['cuts'], terms: ref.terms, k, k1: BM25_K1, b: BM25_B, avgdl: ref.avgdl, fullReadDf: 16, ...(team ? { where: { team } } : {}) });
          const label = `"${q.join(' ')}" top ${k}${team ? ` team ${team}` : ''}`;
          expect(top.hits.map((h) => h.id), label).toEqual(ref.ranked.slice(0, k).map((d) => d.id));
          top.hits.forEach((h, i) => expect(Math.abs(h.score - ref.ranked[i]!.score), label).toBeLessThan(1e-9));
          if (top.queries.some((x) => (x.values[6] as number[] | undefined)?.some((m) => m < 2_147_483_647))) cutRounds++;
          scans += top.lookupScans;
        }
      }
    }
    // The corpus drives the cut reads and the term scans (else this test would not test them).
    expect(cutRounds).toBeGreaterThan(0);
    expect(scans).toBeGreaterThan(0);
  });
});

describe('keywordTopK: lookups probe by record even when the statistics predate the entity', () => {
  // A new entity's postings are invisible to statistics analyzed before it (autovacuum
  // analyzes after 10% of a table changed): the planner then takes its postings for a
  // handful, and scanned all of them for each lookup by record.
  let db: TestDatabase;
  let seed = 59;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const docs: { id: string; team: string; toks: string[] }[] = [];
  const body = () => {
    const words = Array.from({ length: 4 + Math.floor(rand() * 8) }, () => `f${Math.floor(rand() * 400)}`);
    // "alpha" in a few documents, "beta" in most: the candidates from alpha get beta looked up.
    if (rand() < 0.01) words.push(...Array<string>(1 + Math.floor(rand() * 3)).fill('alpha'));
    if (rand() < 0.9) words.push(...Array<string>(1 + Math.floor(rand() * 2)).fill('beta'));
    return { body: words.sort(() => rand() - 0.5).join(' ') };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const old = await createEntity(db.pool, { name: 'old', fields: { body: 'text' }, embedFields: ['body'] });
    await ingestTestRecords(db.pool, old, Array.from({ length: 2000 }, body));
    await db.pool.query('ANALYZE kdb_postings');
    const fresh = await createEntity(db.pool, { name: 'fresh', fields: { body: 'text' }, embedFields: ['body'] });
    await ingestTestRecords(db.pool, fresh, Array.from({ length: 6000 }, body));
    const { rows } = await db.pool.query<{ id: string; content: string }>("SELECT record_id AS id, content FROM kdb_search WHERE entity = 'fresh'");
    docs.push(...rows.map((r) => ({ id: r.id, team: '', toks: tokenize(r.content) })));
  }, 120_000);
  afterAll(() => db.close());

  it('each lookup by record reads kdb_postings_record_idx, and the top 10 is the full ranking', async () => {
    const ref = bm25Reference(docs, ['alpha', 'beta']);
    const top = await keywordTopK(db.pool, { entities: ['fresh'], terms: ref.terms, k: 10, k1: BM25_K1, b: BM25_B, avgdl: ref.avgdl });
    expect(top.hits.map((h) => h.id)).toEqual(ref.ranked.slice(0, 10).map((d) => d.id));
    const probes = top.queries.filter((q) => /record_id = ANY\(\$1::uuid\[\]\) AND p\.term/.test(q.text));
    // The corpus makes the search probe by record (a common term, few candidates): else this test shows nothing.
    expect(probes.length).toBeGreaterThan(0);
    for (const q of probes) {
      const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('kdb_postings_record_idx');
      expect(plan).not.toContain('kdb_postings_impact_idx');
    }
  });
});
