import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { expireIngestKeys } from '../../../packages/core/src/ingest/expireIngestKeys.js';
import { readEnv } from '../src/env.js';
import type { RunningApi } from '../src/startApi.js';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';

const KEY = 'test-key-0123456789abcdef';

test.override('apiEnv', { KDB_API_KEY: KEY });

describe('API', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let queue: Queue;
  let call: ReturnType<typeof jsonClient>;
  const waiting = async () => (await queue.getJobCounts('waiting')).waiting ?? 0;

  test.beforeAll(async ({ db: d, api: a, call: c, queues }) => {
    [db, api, call, queue] = [d, a, c, queues.embed];
    await call('POST', '/v1/entities', { name: 'tickets', fields: { title: 'text', body: 'text', priority: 'integer', open: 'boolean' }, embedFields: ['title', 'body'] });
  });

  it('refuses to start without an API key unless auth is disabled explicitly', () => {
    expect(() => readEnv({})).toThrow(/KDB_API_KEY: is required.*KDB_AUTH=disabled/);
    expect(readEnv({ KDB_AUTH: 'disabled' }).KDB_AUTH).toBe('disabled');
    // The default provider is the local model.
    expect(readEnv({ KDB_AUTH: 'disabled' }).KDB_EMBEDDING_PROVIDER).toBe('fastembed');
    expect(() => readEnv({ KDB_AUTH: 'disabled', KDB_PORT: 'eighty' })).toThrow(/KDB_PORT.*got "eighty"/);
  });

  it('takes KDB_EF_SEARCH as auto (the default) or a whole number 1-1000, and names anything else', () => {
    expect(readEnv({ KDB_AUTH: 'disabled' }).KDB_EF_SEARCH).toBe('auto');
    expect(readEnv({ KDB_AUTH: 'disabled', KDB_EF_SEARCH: 'auto' }).KDB_EF_SEARCH).toBe('auto');
    expect(readEnv({ KDB_AUTH: 'disabled', KDB_EF_SEARCH: '100' }).KDB_EF_SEARCH).toBe(100);
    for (const bad of ['0', '1001', '12.5', 'fast', '1e3', ' 40']) expect(() => readEnv({ KDB_AUTH: 'disabled', KDB_EF_SEARCH: bad })).toThrow(/KDB_EF_SEARCH: must be auto or a whole number 1-1000/);
  });

  it('answers a request line past Node\'s header limit with a JSON 431 naming the limit, and stays up', async () => {
    const res = await fetch(`${api.url}/v1/search?q=${'a'.repeat(20_000)}`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(431);
    expect(await res.json()).toMatchObject({ error: { code: 'headers_too_large', message: expect.stringMatching(/exceed \d+ bytes.*POST \/v1\/search/) } });
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  });

  it('answers 401 on /v1 without the right bearer token, but serves probes', async () => {
    expect((await call('GET', '/v1/entities', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
    const none = await fetch(`${api.url}/v1/entities`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${api.url}/readyz`)).json()).toEqual({ status: 'ready', ready: true, postgres: true, redis: true, migrations: true, spaces: [] });
  });

  it('creates, lists and reads entities, validating names and embed fields', async () => {
    expect((await call('GET', '/v1/entities/tickets')).body).toMatchObject({ name: 'tickets', embedFields: ['title', 'body'] });
    expect((await call('GET', '/v1/entities')).body.entities.map((e: { name: string }) => e.name)).toEqual(['tickets']);
    const dup = await call('POST', '/v1/entities', { name: 'tickets', fields: { a: 'text' }, embedFields: ['a'] });
    expect(dup).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    const bad = await call('POST', '/v1/entities', { name: 'Bad Name', fields: { a: 'blob' }, embedFields: ['b'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/name: entity name must match/);
    expect(bad.body.error.message).toMatch(/fields.a: field type must be one of text, string/);
    const badEmbed = await call('POST', '/v1/entities', { name: 'ok_name', fields: { a: 'text' }, embedFields: ['b'] });
    expect(badEmbed.body.error.message).toMatch(/embedFields.0: embed field "b" is not one of the entity's fields \(a\)/);
    expect((await call('GET', '/v1/entities/nope')).status).toBe(404);
  });

  it('ingests one record, an array or NDJSON: commits first, then enqueues id-only jobs', async () => {
    const before = await waiting();
    const one = await call('POST', '/v1/entities/tickets/records', { title: 'printer on fire', priority: 1 });
    expect(one).toMatchObject({ status: 202, body: { count: 1, jobs: 1 } });
    const many = await call('POST', '/v1/entities/tickets/records', Array.from({ length: 5000 }, (_, i) => ({ title: `t${i}` })));
    expect(many).toMatchObject({ status: 202, body: { count: 5000, jobs: 3 } });
    const nd = Array.from({ length: 3 }, (_, i) => JSON.stringify({ title: `nd ${i}`, open: true })).join('\n') + '\n\n';
    const ndRes = await call('POST', '/v1/entities/tickets/records', nd, { 'content-type': 'application/x-ndjson' });
    expect(ndRes).toMatchObject({ status: 202, body: { count: 3 } });
    expect(await waiting()).toBe(before + 5);
    const jobs = await queue.getJobs(['waiting'], 0, 0);
    expect(Object.keys(jobs[0]!.data)).toEqual(['ids']);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM kdb_search WHERE status = 'pending'`);
    expect(rows[0].n).toBe(5004);
  });

  it('rejects a bad record anywhere in the batch without writing any of it', async () => {
    const count = async () => (await db.pool.query('SELECT count(*)::int AS n FROM kdb_records')).rows[0].n as number;
    const before = await count();
    const r = await call('POST', '/v1/entities/tickets/records', [{ title: 'ok' }, { title: 'ok' }, { priority: 'high' }]);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid_input', details: { at: 'records[2]', field: 'priority', expected: 'integer' } });
    const nd = await call('POST', '/v1/entities/tickets/records', '{"title":"a"}\n{"title":', { 'content-type': 'application/x-ndjson' });
    expect(nd.body.error.message).toMatch(/^line 2: not valid JSON/);
    const unknown = await call('POST', '/v1/entities/tickets/records', { colour: 'red' });
    expect(unknown.body.error.message).toMatch(/unknown field "colour".*allowed fields/);
    expect((await call('POST', '/v1/entities/tickets/records', '{oops')).status).toBe(400);
    expect((await call('POST', '/v1/entities/nope/records', { title: 'x' })).status).toBe(404);
    expect(await count()).toBe(before);
  });

  it('makes a retried ingest with the same Idempotency-Key write nothing and return the same ids', async () => {
    const count = async () => (await db.pool.query('SELECT count(*)::int AS n FROM kdb_records')).rows[0].n as number;
    const before = await count();
    const batch = Array.from({ length: 300 }, (_, i) => ({ title: `idem ${i}`, priority: i }));
    const key = { 'idempotency-key': 'import-2026-11-24-part-1' };
    const first = await call('POST', '/v1/entities/tickets/records', batch, key);
    expect(first).toMatchObject({ status: 202, body: { count: 300 } });
    expect(first.body.replayed).toBeUndefined();
    // The answer was lost; the client sends the same request again (here, as NDJSON).
    const nd = batch.map((r) => JSON.stringify(r)).join('\n');
    const retry = await call('POST', '/v1/entities/tickets/records', nd, { ...key, 'content-type': 'application/x-ndjson' });
    expect(retry).toMatchObject({ status: 202, body: { count: 300, replayed: true, ids: first.body.ids } });
    expect(await count()).toBe(before + 300);

    // The same key with other records is a client bug: refused, nothing written.
    const other = await call('POST', '/v1/entities/tickets/records', [{ title: 'something else' }], key);
    expect(other.status).toBe(409);
    expect(other.body.error.message).toMatch(/Idempotency-Key "import-2026-11-24-part-1" was already used for different records/);
    // Keys belong to an entity; a malformed key names what is allowed.
    const bad = await call('POST', '/v1/entities/tickets/records', [{ title: 'x' }], { 'idempotency-key': 'has spaces in it' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/Idempotency-Key must be 1–200 printable ASCII characters without spaces; got "has spaces in it"/);

    // Two requests with one new key at the same time: one copy, one set of ids.
    const twice = await Promise.all([0, 1].map(() => call('POST', '/v1/entities/tickets/records', batch.slice(0, 50), { 'idempotency-key': 'concurrent-key' })));
    expect(twice.map((r) => r.status)).toEqual([202, 202]);
    expect(twice[0]!.body.ids).toEqual(twice[1]!.body.ids);
    expect(twice.filter((r) => r.body.replayed).length).toBe(1);
    expect(await count()).toBe(before + 350);

    // Keys are remembered for KDB_IDEMPOTENCY_TTL (the workers' maintenance expires them); after that a retry writes again.
    await db.pool.query(`UPDATE kdb_ingest_keys SET created_at = now() - interval '25 hours' WHERE key = 'concurrent-key'`);
    expect(await expireIngestKeys(db.pool, 24 * 3_600_000)).toBe(1);
    const late = await call('POST', '/v1/entities/tickets/records', batch.slice(0, 50), { 'idempotency-key': 'concurrent-key' });
    expect(late.body.replayed).toBeUndefined();
    expect(await count()).toBe(before + 400);
  });

  it('reads, patches and deletes a record; only a change of embedded text re-enqueues it', async () => {
    const { body } = await call('POST', '/v1/entities/tickets/records', { title: 'disk full', body: 'on host a', priority: 2 });
    const id = body.ids[0] as string;
    const got = await call('GET', `/v1/entities/tickets/records/${id}`);
    expect(got.body).toMatchObject({ id, data: { title: 'disk full', priority: 2 }, embedding: { status: 'pending' } });
    await db.pool.query(`UPDATE kdb_search SET status = 'ready' WHERE record_id = $1`, [id]);

    let before = await waiting();
    const p1 = await call('PATCH', `/v1/entities/tickets/records/${id}`, { priority: 5 });
    expect(p1.body).toMatchObject({ reembed: false, data: { priority: 5, title: 'disk full' }, embedding: { status: 'ready' } });
    expect(await waiting()).toBe(before);

    before = await waiting();
    const p2 = await call('PATCH', `/v1/entities/tickets/records/${id}`, { body: 'on host b' });
    expect(p2.body).toMatchObject({ reembed: true, embedding: { status: 'pending' } });
    expect(await waiting()).toBe(before + 1);

    expect((await call('PATCH', `/v1/entities/tickets/records/${id}`, { priority: 'x' })).status).toBe(400);
    expect((await call('DELETE', `/v1/entities/tickets/records/${id}`)).status).toBe(204);
    expect((await call('GET', `/v1/entities/tickets/records/${id}`)).status).toBe(404);
    expect((await db.pool.query('SELECT 1 FROM kdb_search WHERE record_id = $1', [id])).rowCount).toBe(0);
    expect((await call('DELETE', `/v1/entities/tickets/records/not-a-uuid`)).status).toBe(404);
  });

  it('serves an OpenAPI 3.1 document listing every /v1 route, generated from the validating schemas', async () => {
    const doc = (await call('GET', '/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const app = api.server.listeners('request')[0] as unknown as { locals: { v1Router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } } };
    const registered = app.locals.v1Router.stack
      .filter((l) => l.route)
      .flatMap((l) => Object.keys(l.route!.methods).filter((m) => m !== '_all').map((m) => `${m} /v1${l.route!.path.replace(/:(\w+)/g, '{$1}')}`));
    expect(registered.length).toBeGreaterThan(15);
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(documented.sort()).toEqual([...new Set(registered)].sort());
    // The entity body schema is the zod schema that validates it.
    const create = doc.paths['/v1/entities'].post.requestBody.content['application/json'].schema;
    expect(create.required).toEqual(['name', 'fields', 'embedFields']);
    expect(create.properties.name.pattern).toBe('^[A-Za-z][A-Za-z0-9_]{0,62}$');
    const search = doc.paths['/v1/search'].get.parameters.map((p: { name: string }) => p.name);
    expect(search).toEqual(expect.arrayContaining(['q', 'entity', 'entities', 'mode', 'limit', 'threshold', 'where', 'explain']));
  });

  it('reports embedding status per entity', async () => {
    const s = await call('GET', '/v1/embeddings/status');
    expect(s.body).toMatchObject({ provider: 'hash', model: 'feature-hash-v1', dimensions: 384, modelKey: 'hash:feature-hash-v1:384' });
    const t = s.body.entities.find((e: { entity: string }) => e.entity === 'tickets');
    expect(t.total).toBe(t.indexed + t.pending + t.failed + t.stale);
    expect(t.pending).toBeGreaterThan(5000);
  });
});
