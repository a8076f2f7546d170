import { Queue } from 'bullmq';
import { z } from 'zod';
import { queueConnection, type QueueOptions } from './embedQueue.js';
import type { RedisClient } from '../redis/createRedis.js';
import { DEFAULTS } from '../config/defaults.js';

export const REINDEX_QUEUE = 'reindex';

/** A planner job's data, checked before planning (see embedJobDataSchema). */
export const reindexJobDataSchema = z.object({ runId: z.guid('runId must be a reindex run id (a UUID)') }).strict();

export type ReindexJobData = z.infer<typeof reindexJobDataSchema>;

/** The planner queue: one job per run (job id = run id), retried if the planner fails. */
export function createReindexQueue(opts: QueueOptions & { connection?: RedisClient }): Queue<ReindexJobData> {
  return new Queue<ReindexJobData>(REINDEX_QUEUE, {
    connection: queueConnection(opts),
    prefix: opts.prefix ?? DEFAULTS.queuePrefix,
    defaultJobOptions: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    },
    streams: { events: { maxLen: 10_000 } },
  });
}
