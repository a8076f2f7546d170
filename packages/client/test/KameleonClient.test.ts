import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { KameleonClient, type StoredRecord } from '@kameleondb/client';
import { test } from '../../../test-support/fixtures.js';
import { until } from '../../../test-support/http.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { ndjsonStream } from '../src/ndjsonStream.js';
import { apiError } from './apiError.js';

const KEY = 'client-test-key-0123456789';
test.override('pipelineOptions', { workers: 1, env: { KDB_API_KEY: KEY }, apiEnv: { KDB_MAX_BODY: '4mb' } });

async function* tickets(n: number): AsyncGenerator<Record<string, unknown>> {
  for (let i = 0; i < n; i++) yield { subject: `ticket ${i} about ${['billing', 'delivery', 'login', 'refund'][i % 4]}`, seq: i };
}

describe('KameleonClient against a running API and worker', () => {
  let p: Pipeline;
  let kdb: KameleonClient;
  test.beforeAll(({ pipeline }) => {
    p = pipeline;
    kdb = new KameleonClient({ url: p.api.url, apiKey: KEY });
  });

  it('creates, lists, reads and changes entities, typed from the request schemas', async () => {
    const created = await kdb.entities.create({ name: 'Ticket', fields: [{ name: 'subject', type: 'text', required: true }, { name: 'seq', type: 'integer' }], embedFields: ['subject'] });
    expect(created).toMatchObject({ name: 'Ticket', fields: { subject: 'text', seq: 'integer' }, required: ['subject'] });
    expect((await kdb.entities.list()).map((e) => e.name)).toEqual(['Ticket']);
    expect(await kdb.entities.get('Ticket')).toMatchObject({ name: 'Ticket', embedFields: ['subject'] });
    const updated = await kdb.entities.update('Ticket', { fields: { status: 'string' } });
    expect(updated).toMatchObject({ fields: { subject: 'text', seq: 'integer', status: 'string' }, reindex: null });
  });

  it('streams 20,000 generated records as NDJSON, waits for their embeddings, and pages through them', async () => {
    let produced = 0;
    async function* counted() {
      for await (const r of tickets(20_000)) {
        produced++;
        yield r;
      }
    }
    const answer = await kdb.records.insertStream('Ticket', counted(), { wait: true, timeoutMs: 170_000 });
    expect(produced).toBe(20_000);
    expect(answer).toMatchObject({ count: 20_000, done: true, counts: { ready: 20_000, pending: 0, failed: 0 } });
    expect(new Set(answer.ids).size).toBe(20_000);

    const seen: StoredRecord[] = [];
    for await (const r of kdb.records.listAll('Ticket', { pageSize: 1000 })) seen.push(r);
    expect(seen).toHaveLength(20_000);
    expect(seen.map((r) => r.id)).toEqual([...answer.ids].sort());
    expect(seen.every((r) => r.embedding.status === 'ready')).toBe(true);

    const found = await kdb.search({ q: 'ticket 12345', entity: 'Ticket', mode: 'keyword', limit: 3 });
    expect(found.results[0]).toMatchObject({ entity: 'Ticket', data: { seq: 12345 } });
    const viaGet = await kdb.search({ q: 'ticket 12345', entity: 'Ticket', mode: 'keyword', limit: 3, where: { seq: 12345 } }, { method: 'GET' });
    expect(viaGet.results.map((r) => r.id)).toEqual([found.results[0]!.id]);
    // Linear fusion's weights go as {keyword, vector} in a body and as "K,V" in a query string.
    const linear = { q: 'ticket 12345', entity: 'Ticket', limit: 3, fusion: 'linear', weights: { keyword: 1, vector: 0 } } as const;
    const linearPost = await kdb.search(linear);
    expect(linearPost.results[0]).toMatchObject({ data: { seq: 12345 } });
    expect((await kdb.search(linear, { method: 'GET' })).results.map((r) => r.id)).toEqual(linearPost.results.map((r) => r.id));
  });

  it('reads no further ahead of the network than its buffer: the producer waits for the reader', async () => {
    let produced = 0;
    const stream = ndjsonStream(
      (function* () {
        for (let i = 0; i < 1_000_000; i++) {
          produced++;
          yield { i, pad: 'x'.repeat(100) };
        }
      })(),
      64 * 1024,
    );
    const reader = stream.getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 50));
    // One chunk read, the queue filled to its 64 KiB mark: a few thousand of the million lines, not all.
    expect(produced).toBeGreaterThan(100);
    expect(produced).toBeLessThan(2_000);
    await reader.cancel();
  });

  it('gives an insert with wait the wait timeout (the API waits up to minutes), not the short one of other calls', async () => {
    const quick = new KameleonClient({ url: p.api.url, apiKey: KEY, timeoutMs: 200 });
    const records = Array.from({ length: 10_000 }, (_, i) => ({ subject: `waited ticket ${i}`, seq: 100_000 + i }));
    const started = Date.now();
    const answer = await quick.records.insertAndWait('Ticket', records);
    expect(Date.now() - started).toBeGreaterThan(200);
    expect(answer).toMatchObject({ count: 10_000, done: true });
    await kdb.records.batchDelete('Ticket', answer.ids);
  });

  it('inserts one record or an array, gets, updates and deletes by id, with an idempotency key', async () => {
    const one = await kdb.records.insert('Ticket', { subject: 'printer on fire', seq: -1 }, { idempotencyKey: 'client-one' });
    expect(one).toMatchObject({ count: 1, jobs: expect.any(Number) as unknown });
    const again = await kdb.records.insert('Ticket', { subject: 'printer on fire', seq: -1 }, { idempotencyKey: 'client-one' });
    expect(again).toMatchObject({ replayed: true, ids: one.ids });
    const waited = await kdb.records.insertAndWait('Ticket', [{ subject: 'coffee machine broken', seq: -2 }, { subject: 'coffee is cold', seq: -3 }]);
    expect(waited).toMatchObject({ count: 2, done: true });
    const id = waited.ids[0]!;
    expect(await kdb.records.get('Ticket', id)).toMatchObject({ id, data: { subject: 'coffee machine broken' } });
    expect(await kdb.records.update('Ticket', id, { status: 'open' })).toMatchObject({ reembed: false, data: { status: 'open', subject: 'coffee machine broken' } });
    await kdb.records.delete('Ticket', id);
    const gone = await apiError(kdb.records.get('Ticket', id));
    expect(gone).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('maps error answers to KameleonApiError: 401, 404, 409, 413 with code, message, details and request id', async () => {
    const wrongKey = await apiError(new KameleonClient({ url: p.api.url, apiKey: 'wrong-key-0123456789' }).entities.list());
    expect(wrongKey).toMatchObject({ status: 401, code: 'unauthorized', requestId: expect.any(String) as unknown });

    const missing = await apiError(kdb.entities.get('Nope'));
    expect(missing).toMatchObject({ status: 404, code: 'not_found', message: expect.stringContaining('Nope') as unknown });
    expect(missing.requestId).toMatch(/\S/);

    const taken = await apiError(kdb.entities.create({ name: 'ticket', fields: { subject: 'text' }, embedFields: ['subject'] }));
    expect(taken).toMatchObject({ status: 409, code: 'conflict', message: expect.stringMatching(/Ticket/) as unknown });

    const big = Array.from({ length: 50_000 }, (_, i) => ({ subject: `a long subject line number ${i} `.repeat(3), seq: i }));
    const tooLarge = await apiError(kdb.records.insert('Ticket', big));
    expect(tooLarge).toMatchObject({ status: 413, code: 'too_large', details: { limit: 4 * 1024 * 1024 } });
    // Streamed, the server answers 413 while the body is still being sent: the answer is read, not a broken pipe.
    const tooLong = await apiError(kdb.records.insertStream('Ticket', big));
    expect(tooLong).toMatchObject({ status: 413, code: 'too_large' });

    const invalid = await apiError(kdb.records.insert('Ticket', [{ seq: 1 }]));
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_input', message: expect.stringMatching(/subject/) as unknown });
    expect(invalid.details).not.toBeNull();
    // Nothing of the rejected requests was written.
    expect((await kdb.embeddings.status()).entities.find((e) => e.entity === 'Ticket')?.total).toBe(20_002);
  });

  it('wraps network failures: unreachable, a timeout, an abort, and an answer over maxResponseBytes', async () => {
    const refused = await apiError(new KameleonClient({ url: 'http://127.0.0.1:65533', apiKey: KEY }).entities.list());
    expect(refused).toMatchObject({ status: 0, code: 'unreachable', message: expect.stringMatching(/ECONNREFUSED/) as unknown });

    // A server that accepts the connection and never answers.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const started = Date.now();
      const slow = await apiError(new KameleonClient({ url, timeoutMs: 300 }).entities.list());
      expect(slow).toMatchObject({ status: 0, code: 'timeout' });
      expect(Date.now() - started).toBeLessThan(5_000);
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 100);
      expect(await apiError(new KameleonClient({ url }).entities.list({ signal: abort.signal }))).toMatchObject({ status: 0, code: 'aborted' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }

    const small = new KameleonClient({ url: p.api.url, apiKey: KEY, maxResponseBytes: 10_000 });
    expect(await apiError(small.records.list('Ticket', { limit: 1000 }))).toMatchObject({ code: 'response_too_large' });
    expect((await small.records.list('Ticket', { limit: 2 })).records).toHaveLength(2);
  });

  it('reindex: dry run, start, get, list and cancel; embedding status; cache summary and clear', async () => {
    const dry = await kdb.reindex.dryRun({ entity: 'Ticket', force: true });
    expect(dry).toMatchObject({ entity: 'Ticket', force: true, rows: 20_002 });
    const run = await kdb.reindex.start({ entity: 'Ticket', force: true });
    expect(run).toMatchObject({ entity: 'Ticket', force: true });
    expect((await kdb.reindex.get(run.id)).id).toBe(run.id);
    expect((await kdb.reindex.list({ limit: 5 }))[0]!.id).toBe(run.id);
    expect((await kdb.reindex.cancel(run.id)).id).toBe(run.id);
    const ended = await until(async () => {
      const r = await kdb.reindex.get(run.id);
      return ['cancelled', 'completed', 'failed'].includes(r.state) ? r : null;
    });
    expect(['cancelled', 'completed']).toContain(ended.state);
    const status = await kdb.embeddings.status();
    expect(status).toMatchObject({ provider: 'hash', entities: [expect.objectContaining({ entity: 'Ticket', total: 20_002 })] });
    const summary = await kdb.cache.summary();
    expect(summary.entries).toBeGreaterThan(0);
    expect(await kdb.cache.clear({ olderThan: '3650d' })).toMatchObject({ deleted: 0, olderThan: '3650d' });
    expect(await kdb.cache.clear({ all: true })).toMatchObject({ deleted: summary.entries });
    expect((await kdb.cache.summary()).entries).toBe(0);
  });

  it('describes an entity, updates and deletes records in batches (all or nothing), by id prefix, and cleans old runs', async () => {
    const described = await kdb.entities.get('Ticket');
    expect(described).toMatchObject({ name: 'Ticket', records: 20_002, embedding: { total: 20_002 } });

    const page = (await kdb.records.list('Ticket', { limit: 3 })).records;
    const updated = await kdb.records.batchUpdate('Ticket', page.map((r) => ({ id: r.id, status: 'triaged' })));
    expect(updated).toMatchObject({ count: 3, reembed: 0, ids: page.map((r) => r.id) });
    async function* changes() {
      for (const r of page) yield { id: r.id, subject: `${String(r.data.subject)} (reworded)` };
    }
    expect(await kdb.records.batchUpdate('Ticket', changes())).toMatchObject({ count: 3, reembed: 3 });
    const unknown = await apiError(kdb.records.batchUpdate('Ticket', [{ id: page[0]!.id, status: 'x' }, { id: '0000aaaa-0000-7000-8000-000000000000', status: 'x' }]));
    expect(unknown).toMatchObject({ status: 404, code: 'not_found' });
    expect((await kdb.records.get('Ticket', page[0]!.id)).data.status).toBe('triaged');

    // uuidv7 ids of one insert share their leading (time) characters: a short prefix matches several.
    const ambiguous = await apiError(kdb.records.get('Ticket', page[0]!.id.slice(0, 8)));
    expect(ambiguous).toMatchObject({ status: 409, code: 'ambiguous_id' });
    expect(ambiguous.details).toBeTruthy();
    const unique = page[0]!.id.slice(0, 34);
    expect((await kdb.records.get('Ticket', unique)).id).toBe(page[0]!.id);

    const missing = await apiError(kdb.records.batchDelete('Ticket', [page[0]!.id, '0000aaaa-0000-7000-8000-000000000000']));
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });
    expect(await kdb.records.batchDelete('Ticket', page.map((r) => r.id))).toEqual({ deleted: 3, ids: page.map((r) => r.id) });
    expect((await kdb.entities.get('Ticket')).records).toBe(20_002 - 3);

    expect(await kdb.reindex.clean({ olderThan: '7d' })).toEqual({ deleted: 0 });
    expect(await apiError(kdb.reindex.clean({ olderThan: 'soon' }))).toMatchObject({ status: 400, code: 'invalid_input' });
  });
});
