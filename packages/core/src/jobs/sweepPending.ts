import type { Queue } from 'bullmq';
import type pg from 'pg';
import { claimStrandedRows } from '../store/searchRowStore.js';
import { enqueueEmbed, type EmbedJobData } from './embedQueue.js';
import { queueIsBusy } from './queueIsBusy.js';

export interface SweepOptions {
  /** A row pending this long while the embed queue is idle is stranded. */
  afterMs: number;
  /** Ids per embed job. */
  jobSize: number;
  /** Most rows re-enqueued per sweep. Default 20000. */
  limit?: number;
}

/**
 * Re-enqueues rows left pending with no job to carry them: the enqueue after
 * an ingest commit failed (Redis down, process killed) or Redis lost its
 * jobs. A row counts as stranded when it has been pending longer than
 * `afterMs` and the embed queue has nothing waiting, active, delayed or
 * prioritized; when the queue is busy, only after 6 × `afterMs` (a duplicate
 * job costs one skipped lookup). Claimed rows get a new `updated_at`, so
 * concurrent sweepers (every worker runs one) never take the same rows.
 */
export async function sweepPending(pool: pg.Pool, queue: Queue<EmbedJobData>, opts: SweepOptions): Promise<number> {
  const after = (await queueIsBusy(queue)) ? opts.afterMs * 6 : opts.afterMs;
  const ids = await claimStrandedRows(pool, after, opts.limit ?? 20_000);
  await enqueueEmbed(queue, ids, { chunkSize: opts.jobSize });
  return ids.length;
}
