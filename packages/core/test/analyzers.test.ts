import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzerOf, createEntity, createPool, HashProvider, PostingsRebuilder, SearchEngine, type Entity } from '@kameleondb/core';
import { updateEntity } from '../src/store/entityStore.js';
import { getAnalyzerRun, requestAnalyzerRunCancel } from '../src/store/analyzerRunStore.js';
import { patchRecord, deleteRecord } from '../src/store/recordStore.js';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { refAnalyze, refSearch, type RefAnalyzer, type RefDoc } from '../../../test-support/referenceBm25.js';

const CORPUS = [
  'Refund issued for order ZX-99812',
  'Customer asks about refunds and returns',
  'Refunding is slow; the customer refunded twice',
  'Contact a.b@example.com about the reliable delivery',
  'Reliability of the delivery service is questioned',
  'The quick brown fox jumps over the lazy dog',
  "The customer's dogs were running in the park",
  'Order #4411 ships tomorrow with express delivery',
  'ZX-99813 is a different part than the one ordered',
  'a.b@example.org wrote about the order',
  'the and of to a in is it',
];

const GERMAN = ['Die Häuser der Stadt sind alt', 'Ein Haus am See', 'Kategorien und Bücher', 'Das Buch liegt auf dem Tisch', 'Order ZX-99812 kam an'];

describe('analyzers per entity', () => {
  let db: TestDatabase;
  let pool: ReturnType<typeof createPool>;
  let engine: SearchEngine;
  const docs: RefDoc[] = [];

  async function add(entity: Entity, analyzer: RefAnalyzer, texts: readonly string[]) {
    const ids = await ingestTestRecords(db.pool, entity, texts.map((text) => ({ text })));
    ids.forEach((id, i) => docs.push({ id, entity: entity.name, analyzer, text: `text: ${texts[i]}` }));
    return ids;
  }

  /** The engine's keyword answer against the reference, ids in order and scores to 1e-6. */
  async function check(q: string, entities: string[]) {
    const scope = docs.filter((d) => entities.includes(d.entity));
    const want = refSearch(scope, q, 100);
    const answer = await engine.search({ q, entities, mode: 'keyword', limit: 100, explain: true });
    expect(answer.results.map((r) => r.id), q).toEqual(want.map((w) => w.id));
    answer.results.forEach((r, i) => {
      expect(Math.abs(r.score - want[i]!.score), q).toBeLessThan(1e-6);
      expect(r.entity).toBe(want[i]!.entity);
    });
    // A query of stop words alone has no terms: no statistics are read.
    if (want.length || answer.explain!.bm25) expect(answer.explain!.bm25!.documents).toBe(scope.length);
    return answer;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql(100) });
    engine = new SearchEngine({ pool, provider: new HashProvider() });
    await add(await createEntity(db.pool, { name: 'tickets', fields: { text: 'text' }, embedFields: ['text'], analyzer: 'english' }), 'english', CORPUS);
    await add(await createEntity(db.pool, { name: 'plain', fields: { text: 'text' }, embedFields: ['text'] }), 'simple', CORPUS.slice(0, 6));
    await add(await createEntity(db.pool, { name: 'dokumente', fields: { text: 'text' }, embedFields: ['text'], analyzer: 'german' }), 'german', GERMAN);
  });
  afterAll(async () => {
    await engine.close();
    await pool.end();
    await db.close();
  });

  it('english stems with Snowball and drops stop words, keeping identifiers whole', () => {
    const terms = analyzerOf('english')("The customer's refunds for ZX-99812, mail a.b@example.com, order #4411");
    expect(terms).toEqual(['custom', 's', 'refund', 'zx', '99812', 'mail', 'b', 'exampl', 'com', 'order', '4411', 'zx-99812', 'a.b@example.com', '#4411']);
    expect(terms).toEqual(refAnalyze('english', "The customer's refunds for ZX-99812, mail a.b@example.com, order #4411"));
  });

  it('english: BM25 matches the formula over the stemmer\'s own terms, to 1e-6', async () => {
    for (const q of ['refunds', 'reliability', 'running dogs', 'delivery order', 'the quick fox']) await check(q, ['tickets']);
    const refunds = await check('refunds', ['tickets']);
    const found = refunds.results.map((r) => r.content);
    expect(found).toContain('text: Refund issued for order ZX-99812');
    expect(found).toContain('text: Refunding is slow; the customer refunded twice');
    // Stop words alone find nothing.
    expect((await check('the and of', ['tickets'])).results).toEqual([]);
  });

  it('english: ZX-99812 and a.b@example.com are found whole, first', async () => {
    const sku = await check('ZX-99812', ['tickets']);
    expect(sku.results[0]!.content).toBe('text: Refund issued for order ZX-99812');
    const mail = await check('a.b@example.com', ['tickets']);
    expect(mail.results[0]!.content).toBe('text: Contact a.b@example.com about the reliable delivery');
    expect((await check('#4411', ['tickets'])).results[0]!.content).toBe('text: Order #4411 ships tomorrow with express delivery');
  });

  it('simple stays as written: "refunds" does not find "refund"', async () => {
    const a = await check('refunds', ['plain']);
    expect(a.results.map((r) => r.content)).toEqual(['text: Customer asks about refunds and returns']);
  });

  it('german (a second Snowball language): "Häuser" finds "Haus", German stop words dropped', async () => {
    expect(analyzerOf('german')('Die Häuser und Bücher')).toEqual(['haus', 'buch']);
    const a = await check('Häuser', ['dokumente']);
    expect(a.results.map((r) => r.content).sort()).toEqual(['text: Die Häuser der Stadt sind alt', 'text: Ein Haus am See']);
    await check('Bücher Kategorie', ['dokumente']);
    expect((await check('ZX-99812', ['dokumente'])).results[0]!.content).toBe('text: Order ZX-99812 kam an');
  });

  it('a multi-entity search analyzes the query per entity: exact over the whole collection', async () => {
    for (const q of ['refunds', 'ZX-99812', 'delivery reliability', 'Häuser order']) await check(q, ['tickets', 'plain', 'dokumente']);
    const mixed = await check('refunds', ['tickets', 'plain']);
    const terms = mixed.explain!.bm25!.terms.map((t) => `${t.analyzer}:${t.term}`).sort();
    expect(terms).toEqual(['english:refund', 'simple:refunds']);
  });

  it('an analyzer change rebuilds the postings under writes; statistics stay exact; cancel keeps the old analyzer', async () => {
    const entity = await createEntity(db.pool, { name: 'notes', fields: { text: 'text' }, embedFields: ['text'] });
    const texts = Array.from({ length: 300 }, (_, i) => `${CORPUS[i % CORPUS.length]} note ${i % 7}`);
    const ids = await add(entity, 'simple', texts);
    const mine = () => docs.filter((d) => d.entity === 'notes');
    // The ingest wrote blocks: the rebuild, its switch and the drop are tested over them.
    expect((await db.pool.query("SELECT 1 FROM kdb_postings_blocks WHERE entity = 'notes' LIMIT 1")).rowCount).toBe(1);

    // A cancelled change: the new postings go, the entity keeps simple.
    const first = await updateEntity(db.pool, 'notes', { analyzer: 'german' });
    expect(first.entity.analyzerChange).toEqual({ to: 'german', runId: first.analyzerRun!.id });
    await requestAnalyzerRunCancel(db.pool, first.analyzerRun!.id);
    const r1 = new PostingsRebuilder({ pool: db.pool, batchSize: 50, dropGraceMs: 0, pollMs: 50 });
    r1.start();
    await waitFor(async () => (await getAnalyzerRun(db.pool, first.analyzerRun!.id)).state === 'cancelled' && (await leftover('notes#1')) === 0);
    await r1.close();
    for (const q of ['refunds', 'note delivery']) await check(q, ['notes']);

    // A change that completes, with writes to the entity in the middle of it.
    const second = await updateEntity(db.pool, 'notes', { analyzer: 'english' });
    expect(second.analyzerRun!.total).toBe(300);
    // One rebuild at a time: another change while this one runs is a conflict naming it.
    await expect(updateEntity(db.pool, 'notes', { analyzer: 'german' })).rejects.toThrow(`already being rebuilt for another analyzer (run ${second.analyzerRun!.id})`);
    const r2 = new PostingsRebuilder({ pool: db.pool, batchSize: 20, dropGraceMs: 0, pollMs: 50 });
    r2.start();
    const stale: Entity = { ...entity };
    await patchRecord(db.pool, stale, ids[5]!, { text: 'refunds refunded again' });
    mine().find((d) => d.id === ids[5])!.text = 'text: refunds refunded again';
    await deleteRecord(db.pool, 'notes', ids[6]!);
    docs.splice(docs.findIndex((d) => d.id === ids[6]), 1);
    await add(entity, 'simple', ['a new refund request', 'nothing relevant here']);
    await waitFor(async () => (await getAnalyzerRun(db.pool, second.analyzerRun!.id)).state === 'completed');
    await r2.close();
    for (const d of mine()) d.analyzer = 'english';
    for (const q of ['refunds', 'note delivery', 'ZX-99812', 'running']) await check(q, ['notes']);
    // Old postings and their term statistics are gone; the totals equal the new lengths.
    expect(await leftover('notes')).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT (SELECT sum(total_len) FROM kdb_bm25_stats WHERE entity = 'notes')::int AS total, (SELECT sum(doc_len) FROM kdb_search WHERE entity = 'notes')::int AS lens,
              (SELECT count(*) FROM kdb_bm25_terms WHERE entity = 'notes')::int AS old_terms, (SELECT count(*) FROM kdb_postings_next_len)::int AS next_lens`,
    );
    const want = mine().reduce((s, d) => s + refAnalyze('english', d.text).length, 0);
    expect(rows[0]).toEqual({ total: want, lens: want, old_terms: 0, next_lens: 0 });
    // Writes after the switch go to the new postings alone.
    await add(entity, 'english', ['refunds after the switch']);
    await check('refunds', ['notes']);
  });

  it('an ingest large enough for blocks during a rebuild: the next generation gets rows of its own, exact after the switch', async () => {
    const entity = await createEntity(db.pool, { name: 'bulk', fields: { text: 'text' }, embedFields: ['text'] });
    await add(entity, 'simple', Array.from({ length: 300 }, (_, i) => `${CORPUS[i % CORPUS.length]} bulk ${i % 5}`));
    const change = await updateEntity(db.pool, 'bulk', { analyzer: 'english' });
    // Written while the change runs (no rebuilder yet): current postings as blocks, the next generation's beside them.
    await add(entity, 'simple', Array.from({ length: 300 }, (_, i) => `refunds running late ${i % 9} bulk`));
    const r = new PostingsRebuilder({ pool: db.pool, batchSize: 200, dropGraceMs: 0, pollMs: 50 });
    r.start();
    await waitFor(async () => (await getAnalyzerRun(db.pool, change.analyzerRun!.id)).state === 'completed' && (await leftover('bulk')) === 0);
    await r.close();
    for (const d of docs) if (d.entity === 'bulk') d.analyzer = 'english';
    for (const q of ['refunds', 'running late', 'bulk', 'delivery']) await check(q, ['bulk']);
  });

  it('mid-rebuild, a search reads only the serving postings, also in the lookups of common terms', async () => {
    const entity = await createEntity(db.pool, { name: 'orders', fields: { text: 'text' }, embedFields: ['text'] });
    let seed = 3;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const pool_ = ['refund', 'refunds', 'policy', 'the', 'of', 'a', 'delivery', 'customer', 'late', 'early'];
    // "order" is in every document (read by rounds, then looked up for the candidates of "refund").
    const texts = Array.from({ length: 1500 }, () => ['order', ...Array.from({ length: 2 + (next() % 8) }, () => pool_[next() % pool_.length]!)].join(' '));
    await add(entity, 'simple', texts);
    await updateEntity(db.pool, 'orders', { analyzer: 'english' });
    const r = new PostingsRebuilder({ pool: db.pool, batchSize: 200, dropGraceMs: 0, pollMs: 50 });
    r.start();
    const run = async () => (await db.pool.query<{ processed: number; state: string }>(`SELECT processed::int, state FROM kdb_analyzer_runs WHERE entity = 'orders'`)).rows[0]!;
    await waitFor(async () => (await run()).processed >= 600);
    await r.close();
    expect((await run()).state).toBe('running');
    for (const q of ['order refund', 'refund order policy', 'order']) await check(q, ['orders']);
    const again = new PostingsRebuilder({ pool: db.pool, batchSize: 500, dropGraceMs: 0, pollMs: 50 });
    again.start();
    await waitFor(async () => (await run()).state === 'completed');
    await again.close();
    for (const d of docs) if (d.entity === 'orders') d.analyzer = 'english';
    for (const q of ['order refund', 'refund order policy', 'order']) await check(q, ['orders']);
  });

  async function leftover(key: string): Promise<number> {
    // Both layouts: the 300-record ingests write blocks, the smaller ones and PATCHes rows.
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT ((SELECT count(*) FROM kdb_postings WHERE entity = $1) + (SELECT count(*) FROM kdb_postings_blocks WHERE entity = $1))::int AS n',
      [key],
    );
    return rows[0]!.n;
  }
});

async function waitFor(cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
