import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from './embedQueue.js';

export const REINDEX_QUEUE = 'reindex';

export interface ReindexJobData {
  runId: string;
}

/** The planner queue: one job per run (job id = run id), retried if the planner fails. */
export function createReindexQueue(opts: { redisUrl: string; prefix?: string; connection?: Redis }): Queue<ReindexJobData> {
  return new Queue<ReindexJobData>(REINDEX_QUEUE, {
    connection: opts.connection ?? createRedis(opts.redisUrl),
    prefix: opts.prefix ?? '{kdb}',
    defaultJobOptions: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    },
    streams: { events: { maxLen: 10_000 } },
  });
}
