import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';

/** `PATCH /v1/entities/:name/records` (`records batch-update` reads JSONL of {id, …fields}): all or nothing (issue 20). No worker runs. */
describe('batch update', () => {
  let db: TestDatabase;
  let call: ReturnType<typeof jsonClient>;
  let ids: string[];
  const ndjson = (rows: unknown[]) => [rows.map((r) => JSON.stringify(r)).join('\n'), { 'content-type': 'application/x-ndjson' }] as const;
  /** Every record's data, search text and update time: what "nothing written" compares. */
  const snapshot = async () =>
    (await db.pool.query(`SELECT r.id, r.data, r.updated_at, s.content, s.status FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.entity = 'Item' ORDER BY r.id`)).rows;
  const keyword = async (q: string) => (await call('GET', `/v1/search?q=${q}&mode=keyword&entity=Item&limit=100`)).body.results.map((r: { id: string }) => r.id) as string[];

  test.beforeAll(async ({ db: d, call: c }) => {
    [db, call] = [d, c];
    await call('POST', '/v1/entities', {
      name: 'Item',
      fields: [
        { name: 'sku', type: 'string', unique: true },
        { name: 'title', type: 'text', required: true },
        { name: 'qty', type: 'integer' },
      ],
      embedFields: ['title'],
    });
    const r = await call('POST', '/v1/entities/Item/records', Array.from({ length: 5000 }, (_, i) => ({ sku: `sku-${i}`, title: `plain item ${i}`, qty: i })));
    ids = r.body.ids;
    // As if embedded: a batch update sends back to pending only what it re-embeds.
    await db.pool.query(`UPDATE kdb_search SET status = 'ready' WHERE entity = 'Item'`);
  });

  it('rejects 5,000 updates when #3,000 is bad, naming its line and id, with nothing written', async () => {
    const before = await snapshot();
    const rows = ids.map((id, i) => (i === 2999 ? { id, qty: 'many' } : { id, title: `shiny item ${i}` }));
    const r = await call('PATCH', '/v1/entities/Item/records', ...ndjson(rows));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe(`line 3000 (id "${ids[2999]}"): field "qty" must be integer, got "many"`);
    // As a JSON array, named by index; a required field set to null.
    const asJson = await call('PATCH', '/v1/entities/Item/records', rows.map((x, i) => (i === 2999 ? { id: x.id, title: null } : x)));
    expect(asJson.body.error.message).toBe(`records[2999] (id "${ids[2999]}"): field "title" is required and cannot be null`);
    const noId = await call('PATCH', '/v1/entities/Item/records', [{ id: ids[0], qty: 1 }, { qty: 2 }]);
    expect(noId.body.error.message).toMatch(/^records\[1\]: "id" must be the record's id \(or a unique prefix of it\) as a string; got none/);
    expect(await snapshot()).toEqual(before);
    expect(await keyword('shiny')).toEqual([]);
  });

  it('rejects unknown and repeated ids and taken unique values, naming them, with nothing written', async () => {
    const before = await snapshot();
    const unknown = '01000000-0000-7000-8000-000000000000';
    const missing = await call('PATCH', '/v1/entities/Item/records', ...ndjson([{ id: ids[0], qty: 1 }, { id: unknown, qty: 2 }]));
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(new RegExp(`^1 of the ids match no record of entity "Item": "${unknown}" \\(line 2\\); nothing was changed`));
    const twice = await call('PATCH', '/v1/entities/Item/records', [{ id: ids[5], qty: 1 }, { id: ids[6], qty: 1 }, { id: ids[5]!.slice(0, 30), qty: 2 }]);
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toMatch(/^records\[2\]: id ".*" \(record .*\) is also at records\[0\]; each record may appear once per request/);
    const taken = await call('PATCH', '/v1/entities/Item/records', [{ id: ids[1], qty: 5 }, { id: ids[2], sku: 'sku-7' }]);
    expect(taken.status).toBe(409);
    expect(taken.body.error.message).toMatch(new RegExp(`^records\\[1\\] \\(id "${ids[2]}"\\): field "sku" of entity "Item" is unique: value "sku-7" is already taken`));
    const swapped = await call('PATCH', '/v1/entities/Item/records', [{ id: ids[1], sku: 'new-1' }, { id: ids[2], sku: 'new-1' }]);
    expect(swapped.status).toBe(409);
    expect(await call('PATCH', '/v1/entities/Item/records', { id: ids[0], qty: 1 })).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/^body must be a JSON array/) } } });
    expect(await snapshot()).toEqual(before);
  });

  it('merges 5,000 updates in one request, by id or prefix, re-embedding only changed texts', async () => {
    const rows = ids.map((id, i) => (i % 2 ? { id: i % 4 === 1 ? id.replace(/-/g, '').slice(0, 28) : id, title: `shiny item ${i}` } : { id, qty: -i }));
    const r = await call('PATCH', '/v1/entities/Item/records', ...ndjson(rows));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ count: 5000, ids, reembed: 2500, jobs: 2 });
    const { rows: statuses } = await db.pool.query(`SELECT s.status, count(*)::int AS n FROM kdb_search s WHERE entity = 'Item' GROUP BY 1 ORDER BY 1`);
    expect(statuses).toEqual([{ status: 'pending', n: 2500 }, { status: 'ready', n: 2500 }]);
    const one = (await call('GET', `/v1/entities/Item/records/${ids[1]}`)).body;
    expect(one.data).toEqual({ sku: 'sku-1', title: 'shiny item 1', qty: 1 });
    expect((await call('GET', `/v1/entities/Item/records/${ids[2]}`)).body.data).toEqual({ sku: 'sku-2', title: 'plain item 2', qty: -2 });
    // The keyword index follows at the commit: the new words find the changed records, the old ones no longer do.
    expect(await keyword('shiny')).toHaveLength(100);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM kdb_postings_of('Item', '{plain}')`)).rows[0].n).toBe(2500);
  });

  it('answers 404 for an unknown entity before reading the body, even a broken gzip one', async () => {
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onError);
    try {
      const r = await call('PATCH', '/v1/entities/Nope/records', Buffer.from('not gzip at all'), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
      expect(r.status).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(errors).toEqual([]);
  });
});
