import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashProvider } from '@kameleondb/core';
import { startApiProcess, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';

describe('pipeline: API and two worker processes', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = testPrefix();
    const env = { KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' };
    const api = await startApiProcess(env);
    url = api.url;
    children.push(api, ...(await Promise.all([startWorkerProcess(env), startWorkerProcess(env)])));
  });
  afterAll(async () => {
    await stopAll(children);
    await obliterateQueues(prefix);
    await db.close();
  });

  it('embeds 5,000 records inserted over HTTP with the vector the hash provider gives each text', async () => {
    const post = (path: string, body: unknown) =>
      fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/v1/entities', { name: 'articles', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] })).status).toBe(201);
    const records = Array.from({ length: 5000 }, (_, i) => ({ title: `Article ${i}`, body: `about topic ${i % 97} and item ${i}` }));
    const res = await post('/v1/entities/articles/records?wait=true', records);
    const body = (await res.json()) as { ids: string[]; counts: Record<string, number>; done: boolean };
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ done: true, counts: { ready: 5000, pending: 0, failed: 0 } });

    const provider = new HashProvider();
    const rows = await readVectors(db.pool, body.ids);
    expect(rows.size).toBe(5000);
    body.ids.forEach((id, i) => {
      const row = rows.get(id)!;
      expect(row.status).toBe('ready');
      expect(row.content).toBe(`title: Article ${i} | body: about topic ${i % 97} and item ${i}`);
      expect(row.vector).toEqual(Array.from(provider.embedOne(row.content)));
    });
    // Both worker processes took part.
    for (const w of children.slice(1)) expect(w.output()).toMatch(/embed worker started/);
  });
});
