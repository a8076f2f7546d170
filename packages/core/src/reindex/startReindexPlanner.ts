import { Worker } from 'bullmq';
import { createRedis } from '../jobs/embedQueue.js';
import { REINDEX_QUEUE, type ReindexJobData } from '../jobs/reindexQueue.js';
import { planReindex, type PlannerOptions } from './planReindex.js';

/**
 * The planner worker of a process (one planner at a time). BullMQ renews
 * the job lock while it runs; if the process dies, the stalled check of
 * another process hands the job over and `planReindex` resumes from the
 * run's saved cursor. After its last attempt the run is marked failed.
 */
export async function startReindexPlanner(
  opts: PlannerOptions & { redisUrl: string; prefix: string; lockMs?: number },
): Promise<{ close(): Promise<void> }> {
  const lockMs = opts.lockMs ?? 30_000;
  const worker = new Worker<ReindexJobData>(REINDEX_QUEUE, async (job) => planReindex(opts, job.data.runId), {
    connection: createRedis(opts.redisUrl),
    prefix: opts.prefix,
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
    maxStalledCount: 10,
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    opts.logger.error({ err, runId: job.data.runId, attempt: job.attemptsMade }, 'reindex planner failed');
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) {
      opts.runs.finish(job.data.runId, 'failed', err.message).catch((e: unknown) => opts.logger.error({ err: e, runId: job.data.runId }, 'could not mark the run failed'));
    }
  });
  worker.on('error', (err) => opts.logger.error({ err }, 'reindex planner connection error'));
  await worker.waitUntilReady();
  return { close: () => worker.close() };
}
