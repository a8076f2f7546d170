import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';

/** `GET /v1/entities/:name` describes the entity: what `entities describe` prints (issue 20). No worker runs: rows stay pending. */
describe('entity describe', () => {
  let db: TestDatabase;
  let call: ReturnType<typeof jsonClient>;

  test.beforeAll(async ({ db: d, call: c }) => {
    [db, call] = [d, c];
  });

  it('answers the entity with its record count and its embedding counts, and zeros for an empty entity', async () => {
    await call('POST', '/v1/entities', { name: 'Ticket', fields: [{ name: 'title', type: 'string', required: true }, { name: 'body', type: 'text' }], embedFields: ['title', 'body'] });
    await call('POST', '/v1/entities', { name: 'Empty', fields: { t: 'text' }, embedFields: ['t'] });
    const ins = await call('POST', '/v1/entities/Ticket/records', [{ title: 'a' }, { title: 'b' }, { title: 'c', body: 'x' }]);
    expect(ins.status).toBe(202);
    // One row failed, as the worker marks a text the provider refused.
    await db.pool.query(`UPDATE kdb_search SET status = 'failed', error = 'refused' WHERE record_id = $1`, [ins.body.ids[0]]);

    const r = await call('GET', '/v1/entities/Ticket');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'Ticket', fields: { title: 'string', body: 'text' }, required: ['title'], embedFields: ['title', 'body'], records: 3 });
    expect(r.body.embedding).toEqual({ total: 3, indexed: 0, pending: 2, failed: 1, stale: 0 });

    const empty = await call('GET', '/v1/entities/Empty');
    expect(empty.body).toMatchObject({ records: 0, embedding: { total: 0, indexed: 0, pending: 0, failed: 0, stale: 0 } });
    // The list stays the plain entities.
    expect((await call('GET', '/v1/entities')).body.entities[0]).not.toHaveProperty('records');
  });
});
