import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, HashProvider, ProviderError, withSharedBackoff, type EmbeddingProvider } from '@kameleondb/core';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';

/** A hash provider that records when each request is sent and answers 429 while `limited` > 0. */
function recording(limited: number, retryAfterMs: number, latencyMs = 0) {
  const inner = new HashProvider();
  const sent: number[] = [];
  const provider: EmbeddingProvider = Object.assign(Object.create(inner) as EmbeddingProvider, {
    embed: async (texts: string[]) => {
      sent.push(Date.now());
      await new Promise((r) => setTimeout(r, latencyMs));
      if (limited-- > 0) throw new ProviderError('429 rate limited', { retryable: true, status: 429, retryAfterMs });
      return inner.embed(texts);
    },
  });
  return { provider, sent };
}

describe('withSharedBackoff (a 429 pauses every worker through Redis)', () => {
  const redis = createRedis(redisUrl());
  const prefix = testPrefix();
  afterAll(async () => {
    await redis.quit();
    await obliterateQueues(prefix);
  });

  it('retries in place after the Retry-After', async () => {
    const key = `${prefix}:pause-a`;
    const { provider, sent } = recording(2, 150);
    const vectors = await withSharedBackoff(provider, { redis, key }).embed(['one', 'two']);
    expect(vectors).toHaveLength(2);
    expect(sent).toHaveLength(3);
    expect(sent[1]! - sent[0]!).toBeGreaterThanOrEqual(145);
    expect(sent[2]! - sent[1]!).toBeGreaterThanOrEqual(145);
  });

  it('a worker already waiting also waits out a pause another worker extended meanwhile', async () => {
    const key = `${prefix}:pause-b`;
    // Worker a's request is on its way (300 ms) and will come back 429 asking for 400 ms.
    const a = recording(1, 400, 300);
    const aDone = withSharedBackoff(a.provider, { redis, key }).embed(['x']);
    await new Promise((r) => setTimeout(r, 20));
    await redis.set(key, '1', 'PX', 400); // meanwhile another 429 paused everybody for 400 ms
    const b = recording(0, 0);
    const bDone = withSharedBackoff(b.provider, { redis, key }).embed(['waiting worker']); // b sleeps through it
    await Promise.all([aDone, bDone]);
    expect(a.sent).toHaveLength(2); // 429, then the retry after the pause
    expect(b.sent).toHaveLength(1);
    // a's 429 (at ~300 ms) extended the pause to ~700 ms: b, asleep until ~420 ms, waited for that too.
    const extendedEnd = a.sent[0]! + 300 + 400;
    expect(b.sent[0]!).toBeGreaterThanOrEqual(extendedEnd - 5);
    expect(a.sent[1]!).toBeGreaterThanOrEqual(extendedEnd - 5);
  });
});
