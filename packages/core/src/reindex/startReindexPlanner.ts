import { UnrecoverableError, Worker } from 'bullmq';
import { DEFAULTS } from '../config/defaults.js';
import { createRedis, type RedisTarget } from '../redis/createRedis.js';
import { parseJobData } from '../jobs/parseJobData.js';
import { REINDEX_QUEUE, reindexJobDataSchema } from '../jobs/reindexQueue.js';
import { planReindex, type PlannerOptions } from './planReindex.js';

/**
 * The planner worker of a process (one planner at a time). BullMQ renews
 * the job lock while it runs; if the process dies, the stalled check of
 * another process hands the job over and `planReindex` resumes from the
 * run's saved cursor. After its last attempt the run is marked failed.
 */
export async function startReindexPlanner(
  opts: PlannerOptions & {
    /** Where Redis is (a URL or a cluster's seed nodes). */
    redis: RedisTarget;
    prefix: string;
    /** Job lock of the planner job in ms. Default DEFAULTS.jobLockMs (30,000). */
    lockMs?: number;
  },
): Promise<{ close(): Promise<void> }> {
  const lockMs = opts.lockMs ?? DEFAULTS.jobLockMs;
  const worker = new Worker(REINDEX_QUEUE, async (job) => planReindex(opts, parseJobData(REINDEX_QUEUE, reindexJobDataSchema, job).runId), {
    connection: createRedis(opts.redis),
    prefix: opts.prefix,
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
    maxStalledCount: 10,
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    // The data may be junk (that may be why it failed): only a valid run id is finished.
    const data = reindexJobDataSchema.safeParse(job.data);
    const runId = data.success ? data.data.runId : undefined;
    opts.logger.error({ err, runId, jobId: job.id, attempt: job.attemptsMade }, 'reindex planner failed');
    const last = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (runId && last) {
      opts.runs.finish(runId, 'failed', err.message).catch((e: unknown) => opts.logger.error({ err: e, runId }, 'could not mark the run failed'));
    }
  });
  worker.on('error', (err) => opts.logger.error({ err }, 'reindex planner connection error'));
  await worker.waitUntilReady();
  return { close: () => worker.close() };
}
