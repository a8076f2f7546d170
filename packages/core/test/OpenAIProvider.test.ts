import { encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider, ConfigError, OpenAIProvider, ProviderError, ValidationError } from '@kameleondb/core';
import { startFakeOpenAI, type FakeOpenAI } from '../../../test-support/fakeOpenAI.js';

describe('OpenAIProvider (official SDK against a local wire-format server)', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(() => fake.close());

  it('sends at most 2048 inputs a request, passes dimensions and the key, and returns vectors in order', async () => {
    fake.requests.length = 0;
    const p = new OpenAIProvider({ apiKey: 'sk-test', baseURL: fake.url, dimensions: 64 });
    expect(p.modelKey).toBe('openai:text-embedding-3-small:64');
    const texts = Array.from({ length: 5000 }, (_, i) => `text ${i}`);
    const vectors = await p.embed(texts);
    expect(fake.requests.map((r) => r.input.length)).toEqual([2048, 2048, 904]);
    expect(fake.requests.every((r) => r.dimensions === 64 && r.authorization === 'Bearer sk-test')).toBe(true);
    expect(Array.from(vectors[4999]!)).toEqual(Array.from(fake.vectorOf('text 4999', 64)));
  });

  it('packs requests by tokens (at most 300,000) and truncates inputs over 8,192 tokens', async () => {
    fake.requests.length = 0;
    const p = new OpenAIProvider({ apiKey: 'k', baseURL: fake.url, dimensions: 8 });
    const long = Array.from({ length: 9000 }, (_, i) => `w${i % 50}`).join(' ');
    expect(encode(long).length).toBeGreaterThan(8192);
    const texts = Array.from({ length: 80 }, (_, i) => `${i} ${long}`);
    let reported = 0;
    const vectors = await p.embed(texts, { onTruncated: (n) => (reported += n) });
    expect(vectors).toHaveLength(80);
    expect(p.truncatedInputs).toBe(80);
    expect(reported).toBe(80); // what the worker's metrics count (kdb_provider_truncated_inputs_total)
    const tokensPer = fake.requests.map((r) => r.input.reduce((n, t) => n + encode(t).length, 0));
    expect(fake.requests.flatMap((r) => r.input.map((t) => encode(t).length)).every((n) => n === 8192)).toBe(true);
    expect(Math.max(...tokensPer)).toBeLessThanOrEqual(300_000);
    expect(fake.requests.map((r) => r.input.length)).toEqual([36, 36, 8]);
    const strict = new OpenAIProvider({ apiKey: 'k', baseURL: fake.url, dimensions: 8, overlongInput: 'reject' });
    expect(await strict.embed([long]).catch((e: unknown) => e)).toMatchObject({ retryable: false, message: expect.stringMatching(/over the model's limit of 8192/) });
  });

  it('never sends an empty input', async () => {
    fake.requests.length = 0;
    const p = new OpenAIProvider({ apiKey: 'sk-test', baseURL: fake.url, dimensions: 8 });
    await expect(p.embed(['ok', '  '])).rejects.toBeInstanceOf(ValidationError);
    expect(fake.requests).toEqual([]);
  });

  it('classifies errors: a 404/400 is permanent, an unreachable server is retryable', async () => {
    const wrongPath = new OpenAIProvider({ apiKey: 'k', baseURL: fake.url.replace(/\/v1$/, '/nope'), dimensions: 8 });
    const e1 = await wrongPath.embed(['x']).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ProviderError);
    expect(e1).toMatchObject({ retryable: false, status: 404 });
    const down = new OpenAIProvider({ apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1', dimensions: 8, timeoutMs: 2000 });
    expect(await down.embed(['x']).catch((e: unknown) => e)).toMatchObject({ retryable: true });
  });

  it('lets configuration lower the batch size, never raise it', () => {
    expect(new OpenAIProvider({ apiKey: 'k', maxInputs: 100 }).limits.maxInputs).toBe(100);
    expect(new OpenAIProvider({ apiKey: 'k', maxInputs: 5000 }).limits.maxInputs).toBe(2048);
    expect(() => createProvider({ provider: 'openai' })).toThrow(ConfigError);
    expect(() => createProvider({ provider: 'openai' })).toThrow(/OPENAI_API_KEY/);
  });
});
