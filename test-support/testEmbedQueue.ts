import type { Queue } from 'bullmq';
import { createEmbedQueue, type EmbedJobData } from '@kameleondb/core';
import { obliterateQueues, testPrefix } from './queuePrefix.js';
import { track } from './leaks.js';
import { redisUrl } from './urls.js';

/** An embed queue under a prefix of its own; `close` closes it and removes every key under the prefix. */
export function createTestEmbedQueue(): { queue: Queue<EmbedJobData>; prefix: string; close(): Promise<void> } {
  const prefix = testPrefix();
  const queue = createEmbedQueue({ redis: redisUrl(), prefix });
  let closed = false;
  track(`embed queue under ${prefix}`, () => !closed);
  return {
    queue,
    prefix,
    async close() {
      await queue.close();
      await obliterateQueues(prefix);
      closed = true;
    },
  };
}
