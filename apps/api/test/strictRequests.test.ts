import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Queue } from 'bullmq';
import { beforeEach, describe, expect, it } from 'vitest';
import { readNdjson } from '@kameleondb/core';
import type { RunningApi } from '../src/startApi.js';
import { test } from '../../../test-support/fixtures.js';
import { send } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { writeCounts } from './writeCounts.js';

const KEY = 'strict-key-0123456789abcdef';
const AUTH = { authorization: `Bearer ${KEY}` };
const JSON_H = { ...AUTH, 'content-type': 'application/json' };
const ND_H = { ...AUTH, 'content-type': 'application/x-ndjson' };
const LIMIT = 64 * 1024;
const PRINTABLE = /^[\x20-\x7e…–]*$/;

test.override('apiEnv', { KDB_API_KEY: KEY, KDB_MAX_BODY: '64kb' });

describe('HTTP requests: limits that hold, strict shapes, 4xx that name the problem', () => {
  let db: TestDatabase;
  let api: RunningApi;
  let queues: Queue[];
  let before: Record<string, number>;
  const counts = () => writeCounts(db.pool, queues);
  const call = (method: string, path: string, headers: Record<string, string> = AUTH, body?: Buffer | string) => send(api.url, method, path, { headers, ...(body === undefined ? {} : { body }) });
  const records = '/v1/entities/notes/records';

  test.beforeAll(async ({ db: d, api: a, queues: q }) => {
    [db, api, queues] = [d, a, [q.embed, q.reindex]];
    const made = await call('POST', '/v1/entities', JSON_H, JSON.stringify({ name: 'notes', fields: { title: 'text', n: 'integer' }, embedFields: ['title'] }));
    expect(made.status).toBe(201);
    await call('POST', '/v1/entities', JSON_H, JSON.stringify({ name: 'pp', fields: { t: 'text' }, embedFields: ['t'] }));
  });
  beforeEach(async () => {
    before = await counts();
  });
  const nothingWritten = async () => expect(await counts()).toEqual(before);

  it('applies KDB_MAX_BODY to NDJSON, to one long NDJSON line and to compressed bodies after decompression: 413, nothing written', async () => {
    const line = (i: number) => JSON.stringify({ title: `note ${i} ${'x'.repeat(100)}` });
    const big = Array.from({ length: 2000 }, (_, i) => line(i)).join('\n');
    expect(big.length).toBeGreaterThan(2 * LIMIT);
    const nd = await call('POST', records, ND_H, big);
    expect(nd.status).toBe(413);
    expect(nd.body.error.message).toMatch(/over the limit of 65536 bytes \(KDB_MAX_BODY\)/);
    const oneLine = await call('POST', records, ND_H, JSON.stringify({ title: 'y'.repeat(3 * LIMIT) }));
    expect(oneLine.status).toBe(413);
    // A gzip bomb: 1 MB of one letter compresses to ~1 KB.
    const bomb = gzipSync(JSON.stringify([{ title: 'z'.repeat(1024 * 1024) }]));
    expect(bomb.length).toBeLessThan(LIMIT);
    expect((await call('POST', records, { ...JSON_H, 'content-encoding': 'gzip' }, bomb)).status).toBe(413);
    expect((await call('POST', records, { ...ND_H, 'content-encoding': 'br' }, brotliCompressSync(big))).status).toBe(413);
    // Compressed bytes count as well: gzip members that decompress to nothing.
    const empties = Buffer.concat(Array.from({ length: 5000 }, () => gzipSync('')));
    expect(empties.length).toBeGreaterThan(LIMIT);
    expect((await call('POST', records, { ...ND_H, 'content-encoding': 'gzip' }, empties)).status).toBe(413);
    await nothingWritten();
    // Within the limit every supported encoding works.
    const small = JSON.stringify([{ title: 'gz' }]);
    for (const [enc, data] of [['gzip', gzipSync(small)], ['deflate', deflateSync(small)], ['br', brotliCompressSync(small)]] as const) {
      const r = await call('POST', records, { ...JSON_H, 'content-encoding': enc }, data);
      expect(r.status, `${enc}: ${JSON.stringify(r.body)}`).toBe(202);
    }
    expect((await call('POST', records, { ...ND_H, 'content-encoding': 'gzip' }, gzipSync(`${line(1)}\n${line(2)}\n`))).body).toMatchObject({ count: 2 });
  });

  it('bounds an NDJSON line by maxLineLength instead of building an unbounded string', async () => {
    async function* chunks() {
      for (let i = 0; i < 100; i++) yield Buffer.from('a'.repeat(1000));
    }
    await expect(async () => {
      for await (const _ of readNdjson(chunks(), { maxLineLength: 10_000 })) void _;
    }).rejects.toThrow(/line 1 is longer than 10000 characters/);
  });

  it('refuses encodings, charsets and bytes it cannot read: 415 or 400, nothing written', async () => {
    const body = JSON.stringify({ title: 'x' });
    const zstd = await call('POST', records, { ...JSON_H, 'content-encoding': 'zstd' }, body);
    expect(zstd.status).toBe(415);
    expect(zstd.body.error.message).toMatch(/Content-Encoding "zstd" is not supported: send gzip, deflate, br or none/);
    const notGzip = await call('POST', records, { ...JSON_H, 'content-encoding': 'gzip' }, body);
    expect(notGzip.status).toBe(400);
    expect(notGzip.body.error.message).toMatch(/body is not valid gzip data/);
    expect((await call('POST', records, { ...JSON_H, 'content-encoding': 'br' }, body)).status).toBe(400);
    const latin1 = await call('POST', records, { ...AUTH, 'content-type': 'application/json; charset=latin1' }, body);
    expect(latin1.status).toBe(415);
    expect(latin1.body.error.message).toMatch(/charset "latin1" is not supported: send UTF-8/);
    const badUtf8 = Buffer.from([...Buffer.from('{"title":"caf'), 0xe9, ...Buffer.from('"}')]);
    const j = await call('POST', records, JSON_H, badUtf8);
    expect(j.status).toBe(400);
    expect(j.body.error.message).toMatch(/not valid UTF-8/);
    const n = await call('POST', records, ND_H, Buffer.concat([Buffer.from('{"title":"ok"}\n'), badUtf8]));
    expect(n.status).toBe(400);
    expect(n.body.error.message).toMatch(/not valid UTF-8/);
    // gzip data sent as plain NDJSON: the answer names the problem without echoing the bytes.
    const binary = await call('POST', records, ND_H, gzipSync(Buffer.from(`${JSON.stringify({ title: 'secret' })}\n`.repeat(50))));
    expect(binary.status).toBe(400);
    expect(binary.body.error.message).toMatch(PRINTABLE);
    const ctl = await call('POST', records, ND_H, '{"title": \u0001\u0002 "x"}');
    expect(ctl.status).toBe(400);
    expect(ctl.body.error.message).toMatch(PRINTABLE);
    await nothingWritten();
  });

  it('accepts a BOM in JSON and in NDJSON alike', async () => {
    expect((await call('POST', records, JSON_H, `\ufeff${JSON.stringify({ title: 'bom json' })}`)).status).toBe(202);
    expect((await call('POST', records, ND_H, `\ufeff${JSON.stringify({ title: 'bom nd' })}\n`)).body).toMatchObject({ count: 1 });
  });

  it('requires the content type of a body: a text/plain reindex starts nothing', async () => {
    const plain = await call('POST', '/v1/reindex', { ...AUTH, 'content-type': 'text/plain' }, '{"entity":"pp","dryRun":true}');
    expect(plain.status).toBe(415);
    expect(plain.body.error.message).toMatch(/Content-Type "text\/plain" is not accepted here: send application\/json/);
    expect((await call('POST', '/v1/entities', AUTH, '{"name":"x"}')).status).toBe(415);
    expect((await call('GET', '/v1/reindex')).body.runs).toEqual([]);
    await nothingWritten();
  });

  it('refuses an empty body and bodies of the wrong JSON type with what was expected: nothing written', async () => {
    const empty = await call('POST', records, JSON_H, '');
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/body is empty/);
    for (const v of ['null', '42', '"text"']) {
      const r = await call('POST', records, JSON_H, v);
      expect(r.status, v).toBe(400);
      expect(r.body.error.message).toMatch(/body must be a JSON object \(one record\) or an array of objects/);
      const e = await call('POST', '/v1/entities', JSON_H, v);
      expect(e.status).toBe(400);
      expect(e.body.error.message).toMatch(/expected object/);
      expect(e.body.error.message).not.toMatch(/not valid JSON/);
    }
    expect((await call('PATCH', `${records}/00000000-0000-0000-0000-000000000000`, JSON_H, '[1]')).body.error.message).toMatch(/body must be a JSON object of the fields to change/);
    await nothingWritten();
  });

  it('rejects unknown query parameters and body keys, naming them, and a parameter given twice', async () => {
    const unknownQ = await call('GET', '/v1/entities?colour=red');
    expect(unknownQ.status).toBe(400);
    expect(unknownQ.body.error.message).toMatch(/unknown query parameter "colour": this route takes none/);
    const searchQ = await call('GET', '/v1/search?q=a&limt=3');
    expect(searchQ.body.error.message).toMatch(/unknown query parameter "limt": this route takes q, entity/);
    const twice = await call('GET', '/v1/search?q=a&q=b');
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toMatch(/query parameter q was given twice/);
    const unknownBody = await call('POST', '/v1/reindex', JSON_H, '{"entity":"pp","dryrun":true}');
    expect(unknownBody.status).toBe(400);
    expect(unknownBody.body.error.message).toMatch(/dryrun/);
    expect((await call('POST', records + '?wait=true&then=x', JSON_H, '{"title":"q"}')).status).toBe(400);
    await nothingWritten();
  });

  it('answers 400 for a bad %-escape in a path or query', async () => {
    for (const path of ['/v1/entities/%E0%A4%A', '/v1/entities/%zz/records/1', '/v1/entities/%ED%A0%80', '/v1/entities/a%00b', '/v1/search?q=%zz', '/v1/search?q=%ED%A0%80']) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.code, path).toBe('invalid_input');
    }
  });

  it('deletes the whole cache only with all=true; a typo or an absurd duration deletes nothing', async () => {
    await db.pool.query(`INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding) SELECT 'm:x:2', 'h' || g, '[1,0]' FROM generate_series(1, 5) g`);
    const n = async () => (await db.pool.query('SELECT count(*)::int AS n FROM kdb_embedding_cache')).rows[0].n as number;
    const typo = await call('DELETE', '/v1/cache?older_than=30d');
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toMatch(/unknown query parameter "older_than": this route takes olderThan, model, all/);
    const none = await call('DELETE', '/v1/cache');
    expect(none.status).toBe(400);
    expect(none.body.error.message).toMatch(/all=true for every entry/);
    const huge = await call('DELETE', '/v1/cache?olderThan=9007199254740993w');
    expect(huge.status).toBe(400);
    expect(huge.body.error.message).toMatch(/olderThan "9007199254740993w" is longer than the most allowed/);
    expect((await call('DELETE', '/v1/cache?all=yes')).status).toBe(400);
    expect((await call('DELETE', '/v1/cache?all=true&model=m:x:2')).status).toBe(400);
    expect(await n()).toBe(5);
    expect((await call('DELETE', '/v1/cache?all=true')).body).toMatchObject({ deleted: 5 });
  });

  it('refuses __proto__, NUL and lone surrogates in where and q, and a q over its documented length', async () => {
    const where = (w: string) => call('GET', `/v1/search?q=a&mode=keyword&where=${encodeURIComponent(w)}`);
    const proto = await where('{"__proto__":"x"}');
    expect(proto.status).toBe(400);
    expect(proto.body.error.message).toMatch(/where: the key "__proto__" is not allowed/);
    const nul = await where('{"title":"a\\u0000b"}');
    expect(nul.status).toBe(400);
    expect(nul.body.error.message).toMatch(/where\.title: holds a NUL/);
    expect((await where('{"title":"\\ud800"}')).body.error.message).toMatch(/lone UTF-16 surrogate/);
    const post = (body: string) => call('POST', '/v1/search', JSON_H, body);
    expect((await post('{"q":"a\\u0000"}')).body.error.message).toMatch(/body\.q: holds a NUL/);
    expect((await post('{"q":"\\udc00x"}')).body.error.message).toMatch(/body\.q: holds a lone UTF-16 surrogate/);
    expect((await post('{"q":"a","where":{"__proto__":{"x":1}}}')).status).toBe(400);
    const long = await post(JSON.stringify({ q: 'a'.repeat(4097), mode: 'keyword' }));
    expect(long.status).toBe(400);
    expect(long.body.error.message).toMatch(/q must be at most 4096 characters/);
    expect((await post(JSON.stringify({ q: 'a'.repeat(4096), mode: 'keyword' }))).status).toBe(200);
    // A record with __proto__ or NUL is refused at the door too.
    expect((await call('POST', records, JSON_H, '{"__proto__":null}')).body.error.message).toMatch(/"__proto__" is not allowed/);
    expect((await call('POST', records, ND_H, '{"title":"a\\u0000"}\n')).body.error.message).toMatch(/line 1\.title: holds a NUL/);
  });

  it('names the scope of the active run in a reindex 409', async () => {
    const first = await call('POST', '/v1/reindex', JSON_H, '{"entity":"pp","force":true}');
    expect(first.status).toBe(202);
    const all = await call('POST', '/v1/reindex', JSON_H, '{}');
    expect(all.status).toBe(409);
    expect(all.body.error.message).toMatch(new RegExp(`already active for entity "pp": ${first.body.id}`));
    expect(all.body.error.message).not.toMatch(/all entities/);
    await call('POST', `/v1/reindex/${first.body.id}/cancel`);
  });

  it('gives every answer an X-Request-Id: a sane one from the client is kept, another is replaced', async () => {
    const kept = await call('GET', '/v1/entities/nope', { ...AUTH, 'x-request-id': 'client-id-123' });
    expect(kept.headers.get('x-request-id')).toBe('client-id-123');
    expect(kept.body.error.requestId).toBe('client-id-123');
    const replaced = await call('GET', '/v1/entities/nope', { ...AUTH, 'x-request-id': 'bad id\twith tab' });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
