import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';
import { until } from '../../../test-support/http.js';


describe('a PATCH racing its own in-flight embedding', () => {
  let p: Pipeline;
  let db: Pipeline['db'];
  let fake: NonNullable<Pipeline['fake']>;
  let url: string;

  beforeAll(async () => {
    p = await startPipeline({ workers: 2, openai: { delayMs: 800 } });
    ({ db } = p);
    fake = p.fake!;
    url = p.api.url;
  });
  afterAll(() => p.close());

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
