import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';

/** Entity names and fields as KameleonDB writes them (issue 20), through the HTTP API. */
describe('entity names and fields', () => {
  let db: TestDatabase;
  let call: ReturnType<typeof jsonClient>;
  const count = async (entity: string) => Number((await db.pool.query('SELECT count(*) FROM kdb_records WHERE entity = $1', [entity])).rows[0].count);
  const ndjson = (rows: unknown[]) => ({ body: rows.map((r) => JSON.stringify(r)).join('\n'), headers: { 'content-type': 'application/x-ndjson' } });

  test.beforeAll(async ({ db: d, call: c }) => {
    [db, call] = [d, c];
  });

  it('keeps names as created, and `Contact` and `contact` cannot both exist', async () => {
    const created = await call('POST', '/v1/entities', { name: 'Contact', fields: { name: 'string', notes: 'text' }, embedFields: ['notes'] });
    expect(created).toMatchObject({ status: 201, body: { name: 'Contact' } });
    const other = await call('POST', '/v1/entities', { name: 'contact', fields: { name: 'string' }, embedFields: ['name'] });
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(other.body.error.message).toMatch(/entity "Contact" already exists; entity names are unique regardless of case/);
    expect((await call('GET', '/v1/entities')).body.entities.map((e: { name: string }) => e.name)).toEqual(['Contact']);
    // Lookups are exact, with a pointer to the name as created.
    expect((await call('GET', '/v1/entities/Contact')).status).toBe(200);
    const lower = await call('GET', '/v1/entities/contact');
    expect(lower.status).toBe(404);
    expect(lower.body.error.message).toMatch(/did you mean "Contact"/);
    // Existing lower-case names keep working; other shapes are refused.
    expect((await call('POST', '/v1/entities', { name: 'lower_case', fields: { t: 'text' }, embedFields: ['t'] })).status).toBe(201);
    for (const bad of ['1Contact', '_x', 'Has-Dash', 'A'.repeat(64)]) {
      const r = await call('POST', '/v1/entities', { name: bad, fields: { t: 'text' }, embedFields: ['t'] });
      expect(r.body.error.message).toMatch(/name: entity name must match \^\[A-Za-z\]/);
    }
  });

  it('stores the list form of fields the same as the map form', async () => {
    const list = await call('POST', '/v1/entities', {
      name: 'ListForm',
      fields: [
        { name: 'email', type: 'string', required: true, unique: true },
        { name: 'bio', type: 'text' },
        { name: 'score', type: 'number' },
        { name: 'born', type: 'date' },
      ],
      embedFields: ['bio'],
    });
    const map = await call('POST', '/v1/entities', {
      name: 'MapForm',
      fields: { email: { type: 'string', required: true, unique: true }, bio: 'text', score: 'float', born: { type: 'date' } },
      embedFields: ['bio'],
    });
    expect([list.status, map.status]).toEqual([201, 201]);
    const strip = ({ name: _n, createdAt: _c, updatedAt: _u, ...rest }: Record<string, unknown>) => rest;
    expect(strip(list.body)).toEqual(strip(map.body));
    expect(strip(list.body)).toEqual({ fields: { email: 'string', bio: 'text', score: 'float', born: 'date' }, embedFields: ['bio'], required: ['email'], unique: ['email'], analyzer: 'simple', analyzerChange: null });
    const { rows } = await db.pool.query(`SELECT name, fields, required_fields, unique_fields FROM kdb_entities WHERE name IN ('ListForm', 'MapForm') ORDER BY name`);
    expect(rows[0]).toEqual({ ...rows[1], name: 'ListForm' });
    // Each form reports its own mistakes, at their path.
    const bad = await call('POST', '/v1/entities', { name: 'Bad', fields: [{ name: 'a', type: 'blob' }], embedFields: ['a'] });
    expect(bad.body.error.message).toMatch(/fields\.0\.type: field type must be one of text, string, integer, float, number, boolean, date, datetime, json/);
    const twice = await call('POST', '/v1/entities', { name: 'Bad', fields: [{ name: 'a', type: 'text' }, { name: 'a', type: 'text' }], embedFields: ['a'] });
    expect(twice.body.error.message).toMatch(/fields\.1\.name: field "a" is listed twice/);
    const proto = await call('POST', '/v1/entities', '{"name":"P","fields":[{"name":"__proto__","type":"text"}],"embedFields":["__proto__"]}');
    expect(proto.status).toBe(400);
    expect(proto.body.error.message).toMatch(/field name "__proto__" is refused/);
    expect((await call('POST', '/v1/entities', { name: 'J', fields: [{ name: 'j', type: 'json', unique: true }], embedFields: ['j'] })).body.error.message).toMatch(/a json field cannot be unique/);
  });

  it('rejects the whole request when record 7,000 of 10,000 lacks a required field, naming it', async () => {
    await call('POST', '/v1/entities', { name: 'People', fields: [{ name: 'email', type: 'string', required: true }, { name: 'bio', type: 'text' }], embedFields: ['bio'] });
    const rows = Array.from({ length: 10_000 }, (_, i) => (i === 6999 ? { bio: `person ${i}` } : { email: `p${i}@example.com`, bio: `person ${i}` }));
    const { body, headers } = ndjson(rows);
    const r = await call('POST', '/v1/entities/People/records', body, headers);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^line 7000: required field "email" is missing/);
    const asNull = await call('POST', '/v1/entities/People/records', [{ email: 'a@example.com' }, { email: null, bio: 'x' }]);
    expect(asNull.body.error.message).toMatch(/^records\[1\]: field "email" is required and cannot be null/);
    expect(await count('People')).toBe(0);

    // A PATCH may leave a required field out, not set it to null.
    const one = await call('POST', '/v1/entities/People/records', { email: 'one@example.com', bio: 'one' });
    const id = one.body.ids[0];
    expect((await call('PATCH', `/v1/entities/People/records/${id}`, { bio: 'still one' })).status).toBe(200);
    const cleared = await call('PATCH', `/v1/entities/People/records/${id}`, { email: null });
    expect(cleared.status).toBe(400);
    expect(cleared.body.error.message).toMatch(/field "email" is required and cannot be null/);
    expect((await call('GET', `/v1/entities/People/records/${id}`)).body.data).toEqual({ email: 'one@example.com', bio: 'still one' });
    // Records exist, so a new required field could not hold for them.
    const late = await call('PATCH', '/v1/entities/People', { fields: [{ name: 'phone', type: 'string', required: true }] });
    expect(late.body.error.message).toMatch(/field "phone" cannot be added as required: entity "People" already has records/);
  });

  it('answers 409 naming a duplicate unique value, within one request or against a stored record, writing nothing', async () => {
    await call('POST', '/v1/entities', { name: 'Accounts', fields: [{ name: 'email', type: 'string', unique: true }, { name: 'note', type: 'text' }], embedFields: ['note'] });
    const first = await call('POST', '/v1/entities/Accounts/records', [{ email: 'a@example.com', note: 'a' }, { email: null, note: 'no email' }, { email: null, note: 'nor here' }]);
    expect(first.status).toBe(202);

    const rows = Array.from({ length: 300 }, (_, i) => ({ email: `u${i}@example.com`, note: `user ${i}` }));
    rows.push({ email: 'u17@example.com', note: 'again' });
    const within = await call('POST', '/v1/entities/Accounts/records', rows);
    expect(within).toMatchObject({ status: 409, body: { error: { code: 'conflict', details: { field: 'email', value: 'u17@example.com' } } } });
    expect(within.body.error.message).toMatch(/field "email" of entity "Accounts" is unique: value "u17@example.com" is already taken/);

    const { body, headers } = ndjson([{ email: 'new@example.com', note: 'new' }, { email: 'a@example.com', note: 'clash' }]);
    const stored = await call('POST', '/v1/entities/Accounts/records', body, headers);
    expect(stored).toMatchObject({ status: 409, body: { error: { details: { field: 'email', value: 'a@example.com' } } } });
    expect(await count('Accounts')).toBe(3);
    const { rows: search } = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_search WHERE entity = 'Accounts'`);
    expect(search[0].n).toBe(3);

    // A PATCH onto a taken value: 409, the record unchanged.
    const b = await call('POST', '/v1/entities/Accounts/records', { email: 'b@example.com', note: 'b' });
    const id = b.body.ids[0];
    const patched = await call('PATCH', `/v1/entities/Accounts/records/${id}`, { email: 'a@example.com' });
    expect(patched).toMatchObject({ status: 409, body: { error: { details: { field: 'email', value: 'a@example.com' } } } });
    expect((await call('GET', `/v1/entities/Accounts/records/${id}`)).body.data.email).toBe('b@example.com');

    // A unique field added later is enforced too; the index name is a hash, whatever the names.
    await call('PATCH', '/v1/entities/Accounts', { fields: { handle: { type: 'string', unique: true } } });
    expect((await call('POST', '/v1/entities/Accounts/records', [{ handle: 'x' }, { handle: 'x' }])).status).toBe(409);
    const { rows: idx } = await db.pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'kdb_records' AND indexname LIKE 'kdb_records_uq_%' AND indexdef LIKE '%''Accounts''%'`);
    expect(idx).toHaveLength(2);
  });

  it('validates date fields as calendar dates', async () => {
    await call('POST', '/v1/entities', { name: 'Events', fields: { title: 'text', on: 'date', at: 'datetime' }, embedFields: ['title'] });
    expect((await call('POST', '/v1/entities/Events/records', [{ title: 'leap', on: '2024-02-29', at: '2024-02-29T10:00:00Z' }, { title: 'none', on: null }])).status).toBe(202);
    for (const on of ['2026-02-30', '2026-13-01', '2026-1-05', '2026-01-05T00:00:00Z', 20260105]) {
      const r = await call('POST', '/v1/entities/Events/records', { title: 't', on });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/field "on" must be a date \(YYYY-MM-DD\)/);
    }
  });
});
