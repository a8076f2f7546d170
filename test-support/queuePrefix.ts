import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { createRedis, EMBED_QUEUE } from '@kameleondb/core';
import { redisUrl } from './urls.js';

/** A BullMQ prefix of its own per test, so runs can share one Redis. */
export function testPrefix(): string {
  return `{kdbt-${randomBytes(4).toString('hex')}}`;
}

/** Removes every key of the prefix's queues. */
export async function obliterateQueues(prefix: string): Promise<void> {
  const connection = createRedis(redisUrl());
  const q = new Queue(EMBED_QUEUE, { connection, prefix });
  await q.obliterate({ force: true });
  await q.close();
  await connection.quit();
}
