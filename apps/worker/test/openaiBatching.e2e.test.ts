import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiProcess, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../test-support/fakeOpenAI.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';

describe('batching with the openai provider (real SDK, local wire-format server)', () => {
  let db: TestDatabase;
  let prefix: string;
  let fake: FakeOpenAI;
  const children: ChildApp[] = [];
  let url: string;

  const ingest = async (records: unknown[]) => {
    const res = await fetch(`${url}/v1/entities/docs/records?wait=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(records),
    });
    const body = (await res.json()) as { ids: string[]; counts: Record<string, number> };
    expect(body.counts).toEqual({ ready: records.length, pending: 0, failed: 0 });
    return body.ids;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = testPrefix();
    fake = await startFakeOpenAI();
    const env = {
      KDB_DATABASE_URL: db.url,
      KDB_REDIS_URL: redisUrl(),
      KDB_QUEUE_PREFIX: prefix,
      KDB_AUTH: 'disabled',
      KDB_EMBEDDING_PROVIDER: 'openai',
      KDB_EMBEDDING_MODEL: 'text-embedding-3-small',
      KDB_EMBEDDING_DIMENSIONS: '384',
      OPENAI_API_KEY: 'sk-local-test',
      OPENAI_BASE_URL: fake.url,
    };
    const api = await startApiProcess(env);
    url = api.url;
    children.push(api, ...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
    await fetch(`${url}/v1/entities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'docs', fields: { text: 'text' }, embedFields: ['text'] }),
    });
  });
  afterAll(async () => {
    await stopAll(children);
    await fake.close();
    await obliterateQueues(prefix);
    await db.close();
  });

  it('embeds 30,000 distinct texts in at most 16 requests of at most 2048 inputs, then 0 requests for the same texts again', async () => {
    const records = Array.from({ length: 30_000 }, (_, i) => ({ text: `distinct document number ${i}` }));
    fake.requests.length = 0;
    const ids = await ingest(records);
    const sizes = fake.requests.map((r) => r.input.length);
    expect(sizes.length).toBeGreaterThanOrEqual(15);
    expect(sizes.length).toBeLessThanOrEqual(16);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2048);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30_000);
    expect(fake.requests.every((r) => r.dimensions === 384 && r.model === 'text-embedding-3-small')).toBe(true);
    const sample = await readVectors(db.pool, ids.slice(0, 200));
    for (const row of sample.values()) expect(row.vector).toEqual(Array.from(fake.vectorOf(row.content, 384)));

    fake.requests.length = 0;
    await ingest(records);
    expect(fake.requests).toHaveLength(0);
  });

  it('sends 1 request of 10 inputs for 1,000 records whose texts take 10 values', async () => {
    fake.requests.length = 0;
    await ingest(Array.from({ length: 1000 }, (_, i) => ({ text: `repeated value ${i % 10}` })));
    expect(fake.requests.map((r) => r.input.length)).toEqual([10]);
  });
});
