import type { Queue } from 'bullmq';
import type pg from 'pg';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ReindexJobData } from '../jobs/reindexQueue.js';
import { ENQUEUE_TIMEOUT_MS } from '../jobs/embedQueue.js';
import { withTimeout } from '../util/withTimeout.js';
import { getEntity } from '../store/entityStore.js';
import type { ReindexRun, ReindexRunStore } from './ReindexRunStore.js';

export interface StartReindexOptions {
  entity: string | null;
  force: boolean;
  recompute?: boolean;
}

/**
 * Creates a run (one active run per entity, or for all) and enqueues its
 * planner job. A second request for a busy scope gets a ConflictError whose
 * details carry the active run's id.
 */
export async function startReindex(
  deps: { pool: pg.Pool; runs: ReindexRunStore; reindexQueue: Queue<ReindexJobData> },
  opts: StartReindexOptions,
): Promise<ReindexRun> {
  if (opts.entity !== null) await getEntity(deps.pool, opts.entity);
  const created = await deps.runs.create(opts);
  if ('conflict' in created) {
    throw new ConflictError(`a reindex run is already active for ${opts.entity ? `entity "${opts.entity}"` : 'all entities'}: ${created.conflict}`, {
      activeRunId: created.conflict,
    });
  }
  try {
    await withTimeout(deps.reindexQueue.add('plan', { runId: created.run.id }, { jobId: created.run.id }), ENQUEUE_TIMEOUT_MS, 'Redis (enqueue of the reindex planner)');
  } catch (err) {
    // Should the add still land once Redis is back, the planner finds the run failed and stops.
    const ending = deps.runs.finish(created.run.id, 'failed', `could not enqueue the planner: ${(err as Error).message}`);
    await withTimeout(ending, ENQUEUE_TIMEOUT_MS, 'Redis (end of the run)').catch(() => undefined);
    throw err;
  }
  return created.run;
}

export async function getRun(runs: ReindexRunStore, id: string): Promise<ReindexRun> {
  const run = /^[0-9a-f-]{36}$/i.test(id) ? await runs.get(id) : null;
  if (!run) throw new NotFoundError(`reindex run "${id}" does not exist`, { id });
  return run;
}
