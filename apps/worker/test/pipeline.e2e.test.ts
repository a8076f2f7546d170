import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { HashProvider } from '@kameleondb/core';

test.override('pipelineOptions', { workers: 2 });

describe('pipeline: API and two worker processes', () => {
  let p: Pipeline;
  let url: string;
  let db: Pipeline['db'];
  let children: Pipeline['workers'];

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    ({ db } = p);
    url = p.api.url;
    children = [p.api as never, ...p.workers];
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
