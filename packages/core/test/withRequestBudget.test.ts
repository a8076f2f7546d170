import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, HashProvider, withRequestBudget, type RedisClient } from '@kameleondb/core';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { startRedisCluster, type RedisClusterHandle } from '../../../test-support/redisCluster.js';
import { redisUrl } from '../../../test-support/urls.js';

// On one server and on a 6-node Redis Cluster: the budget script reads and
// writes window keys derived from its key, which a cluster allows only in its slot.
describe.each(['single', 'cluster'] as const)('withRequestBudget (requests and tokens per window, shared in Redis: %s)', (mode) => {
  let redis: RedisClient;
  let cluster: RedisClusterHandle | undefined;
  const prefix = testPrefix();
  beforeAll(async () => {
    cluster = mode === 'cluster' ? await startRedisCluster() : undefined;
    redis = cluster ? cluster.client() : createRedis(redisUrl());
    // Connected before the clock starts: a Cluster client first reads the slot map, and the windows are short.
    await redis.ping();
  });
  afterAll(async () => {
    await redis.quit();
    if (cluster) await cluster.stop();
    else await obliterateQueues(prefix);
  });

  it('holds two providers (two workers) to one request budget together', async () => {
    const windowMs = 500;
    const make = () => withRequestBudget(new HashProvider(), { redis, key: `${prefix}:budget-r`, requestsPerWindow: 3, tokensPerWindow: 0, windowMs });
    const [a, b] = [make(), make()];
    const times: number[] = [];
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 7 }, (_, i) => (i % 2 ? a : b).embed([`text ${i}`]).then(() => times.push(Date.now() - t0))),
    );
    // 3 + 3 + 1 requests: the windows are what admits them.
    const bySlot = new Map<number, number>();
    for (const t of times) bySlot.set(Math.floor((t0 + t) / windowMs), (bySlot.get(Math.floor((t0 + t) / windowMs)) ?? 0) + 1);
    expect(Math.max(...bySlot.values())).toBeLessThanOrEqual(3);
    expect(bySlot.size).toBeGreaterThanOrEqual(3);
  });

  it('holds requests to a token budget', async () => {
    const windowMs = 400;
    const p = withRequestBudget(new HashProvider(), {
      redis,
      key: `${prefix}:budget-t`,
      requestsPerWindow: 0,
      tokensPerWindow: 100,
      windowMs,
      countTokens: (texts) => texts.length * 40,
    });
    const slots: number[] = [];
    for (let i = 0; i < 5; i++) {
      await p.embed(['x']); // 40 tokens each: two fit in a window of 100
      slots.push(Math.floor(Date.now() / windowMs));
    }
    const perSlot = new Map<number, number>();
    for (const s of slots) perSlot.set(s, (perSlot.get(s) ?? 0) + 1);
    expect(Math.max(...perSlot.values())).toBeLessThanOrEqual(2);
    expect(perSlot.size).toBeGreaterThanOrEqual(3);
  });
});
