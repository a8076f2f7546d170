import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { REINDEX_JOB_PRIORITY, type EmbedJobData } from '../jobs/embedQueue.js';
import { DEFAULTS } from '../config/defaults.js';
import { getEntity } from '../store/entityStore.js';
import { recomputeContent } from '../store/recordStore.js';
import { countRunRows, idsNeedingWork, lastRowId, pageRows } from '../store/searchRowStore.js';
import { activeSpace, spaceByKey } from '../store/embeddingSpaceStore.js';
import { isFinished, type ReindexRunStore } from './ReindexRunStore.js';

export interface PlannerOptions {
  pool: pg.Pool;
  runs: ReindexRunStore;
  embedQueue: Queue<EmbedJobData>;
  logger: Logger;
  /** Rows per page (and per embed job). Default 2048. */
  pageSize?: number;
  /** Planned-but-unprocessed rows above which the planner waits. Default 16 pages. */
  maxOutstanding?: number;
}

/**
 * Walks the run's rows in record-id order and enqueues embed jobs tagged
 * with the run. Its position (cursor, page) is saved after each page, so a
 * planner that dies resumes where it stopped. Each page's job id is
 * `<run>-p<page>`: re-planning a page after a crash finds the job already
 * there instead of adding a second one, and the run's counters take each job
 * once. It stays ahead of the workers by at most `maxOutstanding` rows, so a
 * cancel leaves little queued work behind and live inserts are not starved.
 */
export async function planReindex(opts: PlannerOptions, runId: string): Promise<void> {
  const { pool, runs, embedQueue } = opts;
  const pageSize = opts.pageSize ?? DEFAULTS.jobSize;
  const maxOutstanding = opts.maxOutstanding ?? pageSize * 16;
  const run = await runs.get(runId);
  if (!run || isFinished(run.state)) return;
  // Enqueued before its creation commits: wait for the commit, so a recompute reads the entity as changed.
  if (!(await runs.awaitCreation(runId))) return;
  const log = opts.logger.child({ runId });
  // The run's space, or the active one now: a run without a space embeds for what search serves.
  const space = run.space ? await spaceByKey(pool, run.space) : await activeSpace(pool);
  if (!space) {
    await runs.finish(runId, 'failed', run.space ? `embedding space "${run.space}" no longer exists` : 'no embedding space is active');
    return;
  }
  if (run.state === 'queued') {
    // A space build covers the rows there were at its creation (bound set then, spaceAdmin.createSpace);
    // one made without a bound gets the rows there are now.
    if (run.space && !(await runs.plannerPosition(runId)).upTo) {
      const last = await lastRowId(pool);
      if (last) await runs.setPlannerBound(runId, last);
    }
    await runs.markPlanning(runId, await countRunRows(pool, space, run.entity, run.force));
  }
  log.info({ entity: run.entity, force: run.force, recompute: run.recompute, pid: process.pid }, 'reindex planner started');
  const entity = run.recompute && run.entity ? await getEntity(pool, run.entity) : null;
  let { cursor, page } = await runs.plannerPosition(runId);
  const { upTo } = await runs.plannerPosition(runId);

  for (;;) {
    // Back-pressure, and the cancel check between pages.
    for (;;) {
      const now = await runs.get(runId);
      if (!now || isFinished(now.state)) {
        log.info({ state: now?.state }, 'reindex planner stopped');
        return;
      }
      if (now.planned - now.processed <= maxOutstanding) break;
      await sleep(100);
    }
    const rows = await pageRows(pool, { space, entity: run.entity, after: cursor, limit: pageSize, upTo });
    if (rows.length === 0) break;
    let ids = rows.filter((r) => run.force || r.needs).map((r) => r.record_id);
    if (entity) {
      const all = rows.map((r) => r.record_id);
      await recomputeContent(pool, entity, all);
      ids = run.force ? all : await idsNeedingWork(pool, all, space);
    }
    let planned = 0;
    if (ids.length) {
      const jobId = `${runId}-p${page}`;
      const existing = await embedQueue.getJob(jobId);
      if (existing) planned = existing.data.ids.length;
      else {
        await embedQueue.add(
          'embed',
          { ids, runId, ...(run.force ? { force: true } : {}), ...(run.space ? { space: run.space } : {}) },
          { jobId, priority: REINDEX_JOB_PRIORITY },
        );
        planned = ids.length;
      }
    }
    cursor = rows[rows.length - 1]!.record_id;
    page += 1;
    await runs.advancePlanner(runId, { cursor, page, planned });
  }
  const state = await runs.finishPlanning(runId);
  log.info({ state }, 'reindex planning done');
}
