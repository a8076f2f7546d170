import type { Queue } from 'bullmq';
import type pg from 'pg';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ReindexJobData } from '../jobs/reindexQueue.js';
import { ENQUEUE_TIMEOUT_MS } from '../jobs/embedQueue.js';
import { withTimeout } from '../util/withTimeout.js';
import { getEntity } from '../store/entityStore.js';
import type { ReindexRun, ReindexRunStore, RunCreation, RunOptions } from './ReindexRunStore.js';

export type StartReindexOptions = RunOptions;

export interface StartReindexDeps {
  pool: pg.Pool;
  runs: ReindexRunStore;
  reindexQueue: Queue<ReindexJobData>;
}

/** The 409 of a run in the way, naming its scope (an entity's run blocks a run for all, and the reverse), with its id in the details. */
export function runConflict(active: ReindexRun): ConflictError {
  const scope = active.entity === null ? 'all entities' : `entity "${active.entity}"`;
  return new ConflictError(`a reindex run is already active for ${scope}: ${active.id}; cancel it or wait for it to end`, { activeRunId: active.id, activeEntity: active.entity });
}

/**
 * Creates a run (one live run per entity, or for all) and enqueues its
 * planner job, in one run-creation transaction. A second request for a busy
 * scope gets runConflict.
 */
export async function startReindex(deps: StartReindexDeps, opts: StartReindexOptions): Promise<ReindexRun> {
  return deps.runs.inCreation((tx) => startReindexIn(tx, deps, opts));
}

/**
 * startReindex inside a caller's run-creation transaction (its other writes
 * commit with the run). The planner job is enqueued before the commit; the
 * planner waits for the commit (ReindexRunStore.awaitCreation), and ends the
 * run if the transaction rolls back.
 */
export async function startReindexIn(tx: RunCreation, deps: Pick<StartReindexDeps, 'runs' | 'reindexQueue'>, opts: StartReindexOptions): Promise<ReindexRun> {
  if (opts.entity !== null) await getEntity(tx.client, opts.entity);
  const created = await tx.claim(opts);
  if ('conflict' in created) throw runConflict(created.conflict);
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
