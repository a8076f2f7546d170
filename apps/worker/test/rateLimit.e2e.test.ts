import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';

// Small batches and jobs so both workers have requests to make.
test.override('pipelineOptions', { workers: 2, openai: { delayMs: 50 }, env: { KDB_EMBEDDING_MAX_INPUTS: '50' }, apiEnv: { KDB_JOB_SIZE: '50' } });

describe('provider rate limits (429 with Retry-After) across two worker processes', () => {
  let p: Pipeline;
  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    await p.call('POST', '/v1/entities', { name: 'docs', fields: { text: 'text' }, embedFields: ['text'] });
  });

  it('pauses every worker for the Retry-After, retries in place, and embeds every row', async () => {
    const fake = p.fake!;
    fake.rateLimit = { count: 3, retryAfterMs: 800 };
    const res = await p.call('POST', '/v1/entities/docs/records?wait=true', Array.from({ length: 600 }, (_, i) => ({ text: `rate limited text ${i}` })));
    expect(res.body.counts).toEqual({ ready: 600, pending: 0, failed: 0 });
    const limited = fake.requests.filter((r) => r.status === 429);
    expect(limited).toHaveLength(3);
    // After a 429, no worker sent a new request before the Retry-After was over
    // (requests already on their way at that moment may still arrive: 300 ms allowed for them).
    for (const r of limited) {
      expect(fake.requests.filter((x) => x.at > r.at + 300 && x.at < r.at + 780).map((x) => x.at - r.at)).toEqual([]);
    }
    expect(fake.requests.filter((r) => r.status === 200).reduce((n, r) => n + r.input.length, 0)).toBe(600);
    // Both processes saw the shared pause, and the rate limit cost no job attempt.
    for (const w of p.workers) expect(w.output()).toMatch(/provider rate limit: pausing/);
    expect(p.workers.map((w) => w.output()).join('')).not.toMatch(/embed batch failed/);
  });
});
