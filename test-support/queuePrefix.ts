import { randomBytes } from 'node:crypto';
import { createRedis } from '@kameleondb/core';
import { redisUrl } from './urls.js';

/** A BullMQ prefix of its own per test, so runs can share one Redis. */
export function testPrefix(): string {
  return `{kdbt-${randomBytes(4).toString('hex')}}`;
}

/**
 * Removes every key under the prefix: queues, run progress, cache counters.
 * Returns how many keys there were and, with `measure` (default false), the
 * memory they held; `url` defaults to the tests' Redis.
 */
export async function obliterateQueues(prefix: string, opts: { url?: string; measure?: boolean } = {}): Promise<{ keys: number; bytes: number }> {
  const redis = createRedis(opts.url ?? redisUrl());
  let found = 0;
  let bytes = 0;
  let cursor = '0';
  try {
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      found += keys.length;
      if (opts.measure) for (const k of keys) bytes += (await redis.memory('USAGE', k)) ?? 0;
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
  return { keys: found, bytes };
}
