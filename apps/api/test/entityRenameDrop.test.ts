import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { uniqueIndexName } from '../../../packages/core/src/entities/uniqueFieldIndex.js';

/**
 * `PATCH /v1/entities/:name` with renameFields and dropFields (`entities
 * alter`), "done properly, with search rows recomputed" (issue 20). No
 * worker runs: a started run stays live until cancelled.
 */
describe('renaming and dropping fields', () => {
  let db: TestDatabase;
  let call: ReturnType<typeof jsonClient>;
  let ids: string[];
  const keyword = async (q: string) => (await call('GET', `/v1/search?q=${q}&mode=keyword&entity=Article&limit=10`)).body.results.map((r: { id: string }) => r.id).sort() as string[];
  /** Everything a rename or drop changes: what "nothing written" compares. */
  const state = async () => ({
    entity: (await db.pool.query(`SELECT fields, embed_fields, required_fields, unique_fields, updated_at FROM kdb_entities WHERE name = 'Article'`)).rows[0],
    records: (await db.pool.query(`SELECT r.id, r.data, s.content, s.content_hash, s.status FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.entity = 'Article' ORDER BY r.id`)).rows,
    postings: (await db.pool.query(`SELECT count(*)::int AS n, string_agg(DISTINCT term, ' ' ORDER BY term) AS terms FROM kdb_postings WHERE entity = 'Article'`)).rows[0],
    indexes: (await db.pool.query(`SELECT indexname FROM pg_indexes WHERE indexname LIKE 'kdb_records_uq_%' ORDER BY 1`)).rows.map((r) => r.indexname),
    // A run claimed by a transaction that rolled back stays in the history, failed.
    runs: (await db.pool.query(`SELECT count(*)::int AS n FROM kdb_reindex_runs WHERE state <> 'failed'`)).rows[0].n,
  });
  const cancelLiveRuns = async () => {
    for (const r of (await call('GET', '/v1/reindex')).body.runs) if (['queued', 'planning', 'running'].includes(r.state)) await call('POST', `/v1/reindex/${r.id}/cancel`);
  };

  test.beforeAll(async ({ db: d, call: c }) => {
    [db, call] = [d, c];
    await call('POST', '/v1/entities', {
      name: 'Article',
      fields: [
        { name: 'title', type: 'text', required: true },
        { name: 'body', type: 'text' },
        { name: 'code', type: 'string', unique: true },
        { name: 'tag', type: 'string' },
        { name: 'notes', type: 'text' },
      ],
      embedFields: ['title', 'body'],
    });
    ids = (
      await call('POST', '/v1/entities/Article/records', [
        { title: 'walrus migration', body: 'penguin colony', code: 'a1', tag: 'x', notes: 'n' },
        { title: 'walrus diet', body: 'krill', code: 'a2', tag: 'y' },
        { title: 'otters', code: 'a3' },
      ])
    ).body.ids;
  });

  it('renames and drops embedded and plain fields in records, constraints, texts and postings, and starts a reindex run', async () => {
    expect(await keyword('penguin')).toEqual([ids[0]]);
    const r = await call('PATCH', '/v1/entities/Article', { renameFields: { title: 'headline', code: 'sku' }, dropFields: ['body', 'notes'] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ fields: { headline: 'text', sku: 'string', tag: 'string' }, embedFields: ['headline'], required: ['headline'], unique: ['sku'] });
    expect(Object.keys(r.body.fields).sort()).toEqual(['headline', 'sku', 'tag']);
    expect(r.body.reindex).toMatchObject({ entity: 'Article', state: 'queued', recompute: false });

    const s = await state();
    expect(s.records.map((x) => x.data)).toEqual([
      { headline: 'walrus migration', sku: 'a1', tag: 'x' },
      { headline: 'walrus diet', sku: 'a2', tag: 'y' },
      { headline: 'otters', sku: 'a3' },
    ]);
    // Texts hold field names: all three changed and wait for their vectors.
    expect(s.records.map((x) => [x.content, x.status])).toEqual([
      ['headline: walrus migration', 'pending'],
      ['headline: walrus diet', 'pending'],
      ['headline: otters', 'pending'],
    ]);
    // Keyword search finds the records by the new text only.
    expect(await keyword('penguin')).toEqual([]);
    expect(await keyword('krill')).toEqual([]);
    expect(await keyword('title')).toEqual([]);
    expect(await keyword('headline')).toEqual([...ids].sort());
    expect(await keyword('walrus')).toEqual([ids[0], ids[1]].sort());
    expect(s.postings.terms).toBe('diet headline migration otters walrus');

    // The unique index moved with the field and still enforces it.
    expect(s.indexes).toEqual([uniqueIndexName('Article', 'sku')]);
    const dup = await call('POST', '/v1/entities/Article/records', { headline: 'new', sku: 'a2' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toMatch(/field "sku" of entity "Article" is unique: value "a2" is already taken/);
    expect((await call('POST', '/v1/entities/Article/records', { title: 'old name' })).body.error.message).toMatch(/unknown field "title" for entity "Article"; allowed fields: sku, tag, headline/);
    expect((await call('PATCH', `/v1/entities/Article/records/${ids[2]}`, { sku: 'a1' })).status).toBe(409);
    expect((await call('PATCH', `/v1/entities/Article/records/${ids[2]}`, { headline: null })).body.error.message).toMatch(/field "headline" is required/);
  });

  it('refuses bad renames and drops with a 400 naming the problem, and a 409 while a run is active, writing nothing', async () => {
    const before = await state();
    const cases: [unknown, RegExp][] = [
      [{ renameFields: { nope: 'x' } }, /^renameFields: field "nope" is not one of the entity's fields \(sku, tag, headline\)/],
      [{ dropFields: ['nope'] }, /^dropFields\.0: field "nope" is not one of the entity's fields/],
      [{ renameFields: { tag: 'sku' } }, /^renameFields: new name "sku" \(for "tag"\) is taken by an existing field/],
      [{ renameFields: { tag: '1bad' } }, /renameFields\.tag: field names must match/],
      [{ renameFields: { tag: 'id' } }, /field name "id" is reserved for the record id/],
      [{ renameFields: { tag: 'toString' } }, /field name "toString" is refused/],
      [{ renameFields: { tag: 'label' }, dropFields: ['tag'] }, /^field "tag" is both renamed and dropped/],
      [{ renameFields: { tag: 'label', sku: 'label' } }, /^renameFields: "tag" and "sku" would both be renamed to "label"/],
      [{ dropFields: ['headline'] }, /^dropFields: dropping "headline" would leave no embed field/],
      [{ dropFields: ['tag', 'tag'] }, /^dropFields\.1: field "tag" is listed twice/],
      [{ renameFields: { tag: 'label' }, fields: { tag: 'text' } }, /^fields: field "tag" is renamed or dropped in this request/],
      [{ renameFields: {} }, /renameFields must rename at least one field/],
    ];
    for (const [body, message] of cases) {
      const r = await call('PATCH', '/v1/entities/Article', body);
      expect([r.status, r.body.error.message]).toEqual([400, expect.stringMatching(message)]);
    }
    // The run of the first rename is live: texts may not change under it.
    const busy = await call('PATCH', '/v1/entities/Article', { renameFields: { headline: 'heading' } });
    expect(busy.status).toBe(409);
    expect(busy.body.error.message).toMatch(/a reindex run is active for entity "Article"/);
    expect(await state()).toEqual(before);

    // A plain field's rename changes no text: no run, and allowed meanwhile.
    const plain = await call('PATCH', '/v1/entities/Article', { renameFields: { tag: 'label' } });
    expect(plain.status).toBe(200);
    expect(plain.body.reindex).toBeNull();
    const after = await state();
    expect(after.records.map((x) => x.content_hash)).toEqual(before.records.map((x) => x.content_hash));
    expect(after.records[0].data).toEqual({ headline: 'walrus migration', sku: 'a1', label: 'x' });
    expect(after.runs).toBe(before.runs);
  });

  it('is one transaction: a failure at its last step (the run row) leaves entity, records, texts, postings and indexes as they were', async () => {
    await cancelLiveRuns();
    await db.pool.query(`CREATE FUNCTION kdb_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`);
    await db.pool.query('CREATE TRIGGER kdb_test_fail BEFORE INSERT ON kdb_reindex_runs FOR EACH ROW EXECUTE FUNCTION kdb_test_fail()');
    const before = await state();
    try {
      const r = await call('PATCH', '/v1/entities/Article', { renameFields: { headline: 'heading', sku: 'ref' }, dropFields: ['label'] });
      expect(r.status).toBe(500);
    } finally {
      await db.pool.query('DROP TRIGGER kdb_test_fail ON kdb_reindex_runs');
    }
    expect(await state()).toEqual(before);
    expect(await keyword('headline')).toEqual([...ids].sort());
    // The run claimed in Redis before the failure ended as never committed, so the scope is free again.
    const again = await call('PATCH', '/v1/entities/Article', { renameFields: { headline: 'heading' } });
    expect(again.status).toBe(200);
    expect(await keyword('heading')).toEqual([...ids].sort());
  });

  it('is one transaction: its connection killed midway leaves everything as it was', async () => {
    await cancelLiveRuns();
    // The last step waits, so the test can kill the session holding the transaction.
    await db.pool.query(`CREATE OR REPLACE FUNCTION kdb_test_wait() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.state = 'queued' THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$`);
    await db.pool.query('CREATE TRIGGER kdb_test_wait BEFORE INSERT ON kdb_reindex_runs FOR EACH ROW EXECUTE FUNCTION kdb_test_wait()');
    const before = await state();
    try {
      const patch = call('PATCH', '/v1/entities/Article', { renameFields: { heading: 'caption' }, dropFields: ['sku'] });
      let killed = 0;
      for (let i = 0; i < 200 && killed === 0; i += 1) {
        await new Promise((r) => setTimeout(r, 25));
        const { rows } = await db.pool.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%INSERT INTO kdb_reindex_runs%' AND state = 'active'`,
        );
        killed = rows.length;
      }
      expect(killed).toBe(1);
      expect((await patch).status).toBe(503);
      // Its run ended failed: no live run holds the entity's scope.
      expect((await db.pool.query('SELECT state FROM kdb_reindex_runs WHERE finished_at IS NULL')).rows).toEqual([]);
    } finally {
      await db.pool.query('DROP TRIGGER kdb_test_wait ON kdb_reindex_runs');
    }
    expect(await state()).toEqual(before);
    expect(await keyword('heading')).toEqual([...ids].sort());
  });
});
