import { randomBytes } from 'node:crypto';
import { createRedis } from '@kameleondb/core';
import { redisUrl } from './urls.js';

/** A BullMQ prefix of its own per test, so runs can share one Redis. */
export function testPrefix(): string {
  return `{kdbt-${randomBytes(4).toString('hex')}}`;
}

/** Removes every key under the prefix: queues, run progress, cache counters. */
export async function obliterateQueues(prefix: string): Promise<void> {
  const redis = createRedis(redisUrl());
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
}
