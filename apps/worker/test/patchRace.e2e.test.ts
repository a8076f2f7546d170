import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiProcess, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../../test-support/fakeOpenAI.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';

const until = async (check: () => boolean | Promise<boolean>, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('a PATCH racing its own in-flight embedding', () => {
  let db: TestDatabase;
  let prefix: string;
  let fake: FakeOpenAI;
  const children: ChildApp[] = [];
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = testPrefix();
    fake = await startFakeOpenAI({ delayMs: 800 });
    const env = {
      KDB_DATABASE_URL: db.url,
      KDB_REDIS_URL: redisUrl(),
      KDB_QUEUE_PREFIX: prefix,
      KDB_AUTH: 'disabled',
      KDB_EMBEDDING_PROVIDER: 'openai',
      KDB_EMBEDDING_DIMENSIONS: '384',
      OPENAI_API_KEY: 'sk-local-test',
      OPENAI_BASE_URL: fake.url,
    };
    const api = await startApiProcess(env);
    url = api.url;
    children.push(api, ...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
  });
  afterAll(async () => {
    await stopAll(children);
    await fake.close();
    await obliterateQueues(prefix);
    await db.close();
  });

  it('ends with the vector of the newest text', async () => {
    const json = { 'content-type': 'application/json' };
    await fetch(`${url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'notes', fields: { text: 'text' }, embedFields: ['text'] }) });
    const res = await fetch(`${url}/v1/entities/notes/records`, { method: 'POST', headers: json, body: JSON.stringify({ text: 'first draft' }) });
    const id = ((await res.json()) as { ids: string[] }).ids[0]!;
    // The provider has received the old text and is still answering.
    await until(() => fake.requests.some((r) => r.input.includes('text: first draft')));
    const patched = await fetch(`${url}/v1/entities/notes/records/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ text: 'final version' }) });
    expect(((await patched.json()) as { reembed: boolean }).reembed).toBe(true);

    await until(async () => (await readVectors(db.pool, [id])).get(id)!.status === 'ready');
    // Give the first (stale) write every chance to land after the second.
    await new Promise((r) => setTimeout(r, 1500));
    const row = (await readVectors(db.pool, [id])).get(id)!;
    expect(row).toMatchObject({ status: 'ready', content: 'text: final version' });
    expect(row.vector).toEqual(Array.from(fake.vectorOf('text: final version', 384)));
    expect(fake.requests.flatMap((r) => r.input)).toEqual(['text: first draft', 'text: final version']);
  });
});
