import { encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { readVectors } from '../../../test-support/testDatabase.js';

test.override('pipelineOptions', { workers: 2, openai: true, env: { KDB_EMBEDDING_MODEL: 'text-embedding-3-small' } });

describe('batching with the openai provider (real SDK, local wire-format server)', () => {
  let p: Pipeline;
  let db: Pipeline['db'];
  let fake: NonNullable<Pipeline['fake']>;

  const ingest = async (records: unknown[]) => {
    const { body } = await p.call<{ ids: string[]; counts: Record<string, number> }>('POST', '/v1/entities/docs/records?wait=true', records);
    expect(body.counts).toEqual({ ready: records.length, pending: 0, failed: 0 });
    return body.ids;
  };

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    ({ db } = p);
    fake = p.fake!;
    await p.call('POST', '/v1/entities', { name: 'docs', fields: { text: 'text' }, embedFields: ['text'] });
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

  it('packs 2,000 texts of ~400 tokens into the fewest requests of at most 300,000 tokens', async () => {
    fake.requests.length = 0;
    const words = (i: number) => Array.from({ length: 400 }, (_, j) => `w${(i * 7 + j) % 997}`).join(' ');
    const res = await p.call('POST', '/v1/entities/docs/records?wait=true', Array.from({ length: 2000 }, (_, i) => ({ text: `${i} ${words(i)}` })));
    expect(res.body.counts.ready).toBe(2000);
    const tokens = fake.requests.map((r) => r.input.reduce((n, t) => n + encode(t).length, 0));
    const total = tokens.reduce((a, b) => a + b, 0);
    expect(Math.max(...tokens)).toBeLessThanOrEqual(300_000);
    expect(fake.requests).toHaveLength(Math.ceil(total / 300_000));
  });

  it('isolates an input the provider rejects (400): that row fails with the provider\'s message, the rest are embedded', async () => {
    fake.rejectInput = /POISON/;
    fake.requests.length = 0;
    try {
      const res = await p.call('POST', '/v1/entities/docs/records?wait=true', Array.from({ length: 2048 }, (_, i) => ({ text: i === 1234 ? 'POISON pill' : `healthy text ${i}` })));
      expect(res.body.counts).toEqual({ ready: 2047, pending: 0, failed: 1 });
      const failed = await p.call('GET', `/v1/entities/docs/records/${res.body.ids[1234]}`);
      expect(failed.body.embedding).toMatchObject({ status: 'failed', error: expect.stringMatching(/provider answered 400: .*contains content this model cannot embed/) });
      // One request of 2,048, then halvings down to the single bad input: 1 + 2 × 11 requests.
      expect(fake.requests[0]!.input).toHaveLength(2048);
      expect(fake.requests.filter((r) => r.input.includes('text: POISON pill')).map((r) => r.input.length)).toEqual([2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1]);
      expect(fake.requests).toHaveLength(23);
    } finally {
      fake.rejectInput = undefined;
    }
  });
});
