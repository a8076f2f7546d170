import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KameleonClient } from '@kameleondb/client';
import { startSlowAnsweringApi, type SlowAnsweringApi } from '../../../test-support/slowAnsweringApi.js';
import { apiError } from './apiError.js';

// Stands in for undici's default headersTimeout and bodyTimeout of 300 s: the same condition, 600 times shorter.
const SHORT_UNDICI_TIMEOUT_MS = 500;
// How long the server takes to answer once it has read the whole body: past the undici timeouts above.
const ANSWER_DELAY_MS = 1_500;

function* records(n: number): Generator<Record<string, unknown>> {
  for (let i = 0; i < n; i++) yield { subject: `ticket ${i}` };
}

async function* bytes(text: string): AsyncGenerator<string> {
  yield text;
}

describe('KameleonClient calls are bounded by their own timeouts, not undici defaults', () => {
  let api: SlowAnsweringApi;
  let before: Dispatcher;
  let short: Agent;

  beforeAll(async () => {
    api = await startSlowAnsweringApi(ANSWER_DELAY_MS);
    before = getGlobalDispatcher();
    short = new Agent({ headersTimeout: SHORT_UNDICI_TIMEOUT_MS, bodyTimeout: SHORT_UNDICI_TIMEOUT_MS });
    setGlobalDispatcher(short);
  });
  afterAll(async () => {
    setGlobalDispatcher(before);
    await short.close();
    await api.close();
  });

  it('the short global dispatcher does cut a plain fetch that waits as long (the condition the client must survive)', async () => {
    const cause = await fetch(`${api.url}/v1/entities/T/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then(
      () => ({ code: 'fetch succeeded' }),
      (e: unknown) => (e as { cause?: { code?: string } }).cause,
    );
    expect(cause?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
  });

  it('streams an insert with uploadTimeoutMs 0 (no limit, as the CLI does) and gets an answer that comes after the headers timeout', async () => {
    const kdb = new KameleonClient({ url: api.url, uploadTimeoutMs: 0 });
    await expect(kdb.records.insertStream('T', records(3))).resolves.toMatchObject({ count: 3 });
    await expect(kdb.records.insertNdjson('T', bytes('{"a":1}\n{"a":2}\n'))).resolves.toMatchObject({ count: 2 });
  });

  it('streams an insert whose uploadTimeoutMs is longer than the wait, and a batch update', async () => {
    const kdb = new KameleonClient({ url: api.url, uploadTimeoutMs: 10_000 });
    await expect(kdb.records.insertStream('T', records(4))).resolves.toMatchObject({ count: 4 });
    await expect(kdb.records.batchUpdateNdjson('T', bytes('{"id":"a"}\n'))).resolves.toMatchObject({ count: 1 });
  });

  it('waits (wait=true) past the headers timeout, bounded by waitTimeoutMs', async () => {
    const kdb = new KameleonClient({ url: api.url, waitTimeoutMs: 10_000 });
    await expect(kdb.records.insertAndWait('T', [{ a: 1 }, { a: 2 }])).resolves.toMatchObject({ count: 2, wait: true });
    await expect(kdb.records.insertStream('T', records(2), { wait: true })).resolves.toMatchObject({ count: 2, wait: true });
  });

  it('reads an answer body slower than the body timeout when the call allows it', async () => {
    const kdb = new KameleonClient({ url: api.url, timeoutMs: 10_000 });
    await expect(kdb.records.insert('slowBody', { a: 1 })).resolves.toMatchObject({ count: 1 });
  });

  it('still times out with the client’s timeout error when the call’s own limit is shorter than the wait', async () => {
    const kdb = new KameleonClient({ url: api.url, uploadTimeoutMs: 200 });
    const err = await apiError(kdb.records.insertStream('T', records(3)));
    expect(err).toMatchObject({ status: 0, code: 'timeout' });
    expect(err.message).toContain('took longer than 200 ms');
    const waited = await apiError(new KameleonClient({ url: api.url, waitTimeoutMs: 300 }).records.insertAndWait('T', { a: 1 }));
    expect(waited).toMatchObject({ status: 0, code: 'timeout' });
  });

  it('hands its dispatcher to a caller’s own fetch, which then waits as long too', async () => {
    const dispatchers: unknown[] = [];
    const own: typeof fetch = (input, init) => {
      dispatchers.push((init as { dispatcher?: unknown } | undefined)?.dispatcher);
      return fetch(input, init);
    };
    const kdb = new KameleonClient({ url: api.url, uploadTimeoutMs: 0, fetch: own });
    await expect(kdb.records.insertStream('T', records(5))).resolves.toMatchObject({ count: 5 });
    expect(dispatchers).toHaveLength(1);
    expect(dispatchers[0]).toBeDefined();
  });
});
