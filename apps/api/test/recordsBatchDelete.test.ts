import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';

/** `POST /v1/entities/:name/records/delete` (`records batch-delete`): all or nothing (issue 20). */
describe('batch delete', () => {
  let db: TestDatabase;
  let call: ReturnType<typeof jsonClient>;
  let ids: string[];
  const count = async (table: 'kdb_records' | 'kdb_search' | 'kdb_postings') => Number((await db.pool.query(`SELECT count(*) FROM ${table} WHERE entity = 'Doc'`)).rows[0].count);

  test.beforeAll(async ({ db: d, call: c }) => {
    [db, call] = [d, c];
    await call('POST', '/v1/entities', { name: 'Doc', fields: { t: 'text' }, embedFields: ['t'] });
    ids = (await call('POST', '/v1/entities/Doc/records', Array.from({ length: 10 }, (_, i) => ({ t: `walrus number ${i}` })))).body.ids;
  });

  it('deletes nothing when one id matches no record, naming it', async () => {
    const unknown = '0190aaaa-0000-7000-8000-000000000000';
    const r = await call('POST', '/v1/entities/Doc/records/delete', { ids: [ids[0], ids[1], unknown, 'zzzz'] });
    expect(r.status).toBe(404);
    expect(r.body.error.message).toBe(`2 of the ids match no record of entity "Doc": "${unknown}" (ids[2]), "zzzz" (ids[3]); nothing was changed (an id is a UUID or a unique prefix of at least 4 hex characters)`);
    expect(r.body.error.details.missing).toEqual([{ id: unknown, at: 'ids[2]' }, { id: 'zzzz', at: 'ids[3]' }]);
    expect(await count('kdb_records')).toBe(10);
    // The same id twice, once as a prefix: 400, nothing deleted.
    const twice = await call('POST', '/v1/entities/Doc/records/delete', { ids: [ids[0], ids[3], ids[0]!.replace(/-/g, '').toUpperCase()] });
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toMatch(/^ids\[2\]: id ".*" \(record .*\) is also at ids\[0\]; each record may appear once per request/);
    expect(await count('kdb_records')).toBe(10);
  });

  it('deletes every named record, by id or prefix, with its search row and postings, in one answer', async () => {
    const prefix = ids[4]!.replace(/-/g, '').slice(0, 28);
    const r = await call('POST', '/v1/entities/Doc/records/delete', { ids: [ids[0], ids[2], prefix] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ deleted: 3, ids: [ids[0], ids[2], ids[4]] });
    expect([await count('kdb_records'), await count('kdb_search')]).toEqual([7, 7]);
    expect(Number((await db.pool.query('SELECT count(*) FROM kdb_postings WHERE record_id = ANY($1::uuid[])', [[ids[0], ids[2], ids[4]]])).rows[0].count)).toBe(0);
    const found = (await call('GET', '/v1/search?q=walrus&mode=keyword&limit=50')).body.results.map((x: { id: string }) => x.id);
    expect(found).toHaveLength(7);
    expect(found).not.toContain(ids[0]);
    // Deleted ones are now unknown: the whole request is refused.
    expect((await call('POST', '/v1/entities/Doc/records/delete', { ids: [ids[1], ids[0]] })).status).toBe(404);
    expect(await count('kdb_records')).toBe(7);
  });

  it('takes 1 to 10,000 ids, as strings, of an existing entity', async () => {
    expect((await call('POST', '/v1/entities/Doc/records/delete', { ids: [] })).body.error.message).toMatch(/ids must name at least one record/);
    const many = await call('POST', '/v1/entities/Doc/records/delete', { ids: Array.from({ length: 10_001 }, () => ids[1]) });
    expect(many.body.error.message).toMatch(/ids may name at most 10000 records per request/);
    expect((await call('POST', '/v1/entities/Doc/records/delete', { ids: [1] })).status).toBe(400);
    expect((await call('POST', '/v1/entities/Doc/records/delete', { ids: [ids[1]], all: true })).status).toBe(400);
    expect((await call('POST', '/v1/entities/Nope/records/delete', { ids: [ids[1]] })).body.error.message).toMatch(/entity "Nope" does not exist/);
    expect(await count('kdb_records')).toBe(7);
  });
});
