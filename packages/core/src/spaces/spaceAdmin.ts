import type { Queue } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { EMPTY_TEXT_ERROR } from '../batching/embedBatch.js';
import { ConflictError, KdbError, NotFoundError, ValidationError } from '../errors.js';
import { enqueueEmbed, type EmbedJobData } from '../jobs/embedQueue.js';
import { queueIsBusy } from '../jobs/queueIsBusy.js';
import type { ReindexJobData } from '../jobs/reindexQueue.js';
import { dryRunReindex, type DryRunReport } from '../reindex/dryRunReindex.js';
import { isFinished, type ReindexRun, type ReindexRunStore } from '../reindex/ReindexRunStore.js';
import { startReindexIn } from '../reindex/startReindex.js';
import {
  cancelSegmentBuilds,
  deleteSpaceIn,
  insertSpace,
  listSpaces,
  setBuildRun,
  spaceByKey,
  switchActive,
  type ActivateMode,
  type EmbeddingSpace,
  type SpaceSeed,
} from '../store/embeddingSpaceStore.js';
import { lastRowId, recomputeStatuses, rowsNeedingWork } from '../store/searchRowStore.js';
import { withTransaction } from '../store/withTransaction.js';
import type { SpaceProviders } from './SpaceProviders.js';

/** A bound below every record id: a build on an empty database pages nothing. */
const NO_ROWS = '00000000-0000-0000-0000-000000000000';

export interface SpaceAdminDeps {
  pool: pg.Pool;
  runs: ReindexRunStore;
  reindexQueue: Queue<ReindexJobData>;
  spaces: SpaceProviders;
  pricePerMillionTokens?: number | undefined;
}

export interface NewSpace extends SpaceSeed {
  activate: ActivateMode;
}

/** The model key of a route (`:key`), checked: provider:model:dimensions. */
export function checkedModelKey(key: string): string {
  if (key.length > 300 || !/^[a-z0-9_-]{1,40}:[^\s]{1,200}:\d{1,5}$/.test(key)) {
    throw new ValidationError(`"${key.slice(0, 100)}" is not a model key: provider:model:dimensions, such as hash:feature-hash-v1:384 (URL-encode the ':')`, { key: key.slice(0, 100) });
  }
  return key;
}

async function existing(pool: pg.Pool, key: string): Promise<EmbeddingSpace> {
  const space = await spaceByKey(pool, checkedModelKey(key));
  if (!space) {
    const all = await listSpaces(pool);
    throw new NotFoundError(`embedding space "${key}" does not exist; spaces: ${all.map((s) => s.modelKey).join(', ') || '(none)'}`, { space: key });
  }
  return space;
}

/** Dry run of a new space (or one already there): the reindex dry-run report for its model key. */
export async function dryRunSpace(deps: SpaceAdminDeps, seed: SpaceSeed): Promise<DryRunReport & { space: string; exists: boolean }> {
  const provider = await deps.spaces.check(seed);
  const found = await spaceByKey(deps.pool, provider.modelKey);
  const report = await dryRunReindex(deps.pool, provider, { id: found?.id ?? null, modelKey: provider.modelKey }, {
    entity: null,
    force: false,
    pricePerMillionTokens: deps.pricePerMillionTokens,
  });
  return { ...report, space: provider.modelKey, exists: found !== null };
}

/**
 * Creates a space in state `building` and its build: a reindex run into it,
 * in one run-creation transaction (the space row, its vector table, the run
 * and its planner job commit together or not at all). A space that exists
 * and is building with its run ended (cancelled, failed) gets a new run that
 * resumes it: rows embedded already are skipped.
 */
export async function createSpace(deps: SpaceAdminDeps, input: NewSpace): Promise<{ space: EmbeddingSpace; run: ReindexRun }> {
  const provider = await deps.spaces.check(input);
  const key = provider.modelKey;
  const result = await deps.runs.inCreation(async (tx) => {
    let space = await spaceByKey(tx.client, key);
    if (space && space.state !== 'building') {
      throw new ConflictError(
        space.state === 'active'
          ? `embedding space "${key}" is the active one already`
          : `embedding space "${key}" exists (retired, its vectors kept): switch back to it with POST /v1/spaces/${encodeURIComponent(key)}/activate`,
        { space: key, state: space.state },
      );
    }
    const building = (await listSpaces(tx.client)).find((s) => s.state === 'building' && s.modelKey !== key);
    if (building) {
      throw new ConflictError(`embedding space "${building.modelKey}" is being built: wait for it, or drop it (DELETE /v1/spaces/…), before building another`, { building: building.modelKey });
    }
    if (space?.buildRunId) {
      const run = await deps.runs.get(space.buildRunId);
      if (run && !isFinished(run.state)) throw new ConflictError(`embedding space "${key}" is being built by run ${run.id}`, { space: key, runId: run.id });
    }
    space ??= await insertSpace(tx.client, { ...input, provider: provider.name, model: provider.model, dimensions: provider.dimensions }, 'building', input.activate);
    const run = await startReindexIn(tx, deps, { entity: null, force: false, space: key });
    // The build covers the rows there are now: every later insert or PATCH is enqueued for the space by
    // its own write (once the API processes see the space), so the planner paging it too would embed
    // its text twice. Fixed here, before the commit the planner waits for.
    await deps.runs.setPlannerBound(run.id, (await lastRowId(tx.client)) ?? NO_ROWS);
    await setBuildRun(tx.client, space.id, run.id);
    return { space: { ...space, buildRunId: run.id }, run };
  });
  return result;
}

/**
 * Makes a space active in one transaction: the active one is retired, and
 * every row's status is recomputed from the new space (rows without a vector
 * of their current text there become pending; the sweeper enqueues them, and
 * texts seen before are found in the embedding cache). A building space is
 * switched only once its build run completed.
 */
export async function activateSpace(deps: SpaceAdminDeps, key: string): Promise<EmbeddingSpace> {
  const space = await existing(deps.pool, key);
  if (space.state === 'active') return space;
  // Search must be able to embed queries in it before it serves them.
  await deps.spaces.providerFor(space);
  if (space.state === 'building') {
    const run = space.buildRunId ? await deps.runs.get(space.buildRunId) : null;
    if (!run || run.state !== 'completed') {
      throw new ConflictError(`embedding space "${space.modelKey}" is still being built (run ${run?.id ?? 'none'}: ${run?.state ?? 'missing'}); activate it once its build completed`, {
        space: space.modelKey,
        runId: run?.id ?? null,
      });
    }
  }
  await switchTo(deps.pool, space.id);
  await deps.spaces.spaces(true);
  return (await spaceByKey(deps.pool, space.modelKey))!;
}

async function switchTo(pool: pg.Pool, id: number): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const { switched } = await switchActive(client, id);
    if (switched) await recomputeStatuses(client, id, EMPTY_TEXT_ERROR);
    return switched;
  });
}

/** Drops a space that is not the active one: its vectors and segments; a live build run is cancelled first. */
export async function dropSpace(deps: SpaceAdminDeps, key: string): Promise<{ dropped: string }> {
  const space = await existing(deps.pool, key);
  if (space.state === 'active') {
    throw new ConflictError(`embedding space "${space.modelKey}" is the active one: activate another before dropping it`, { space: space.modelKey });
  }
  if (space.buildRunId) {
    const run = await deps.runs.get(space.buildRunId);
    if (run && !isFinished(run.state)) await deps.runs.finish(run.id, 'cancelled');
  }
  await cancelSegmentBuilds(deps.pool, space.id);
  if (!(await withTransaction(deps.pool, (c) => deleteSpaceIn(c, space.id)))) {
    throw new ConflictError(`embedding space "${space.modelKey}" became the active one meanwhile; nothing was dropped`, { space: space.modelKey });
  }
  await deps.spaces.spaces(true);
  return { dropped: space.modelKey };
}

/**
 * One pass over the spaces being built (every worker runs it each second):
 * a space whose build run completed and where every row has a vector of its
 * current text (rows the run counted failed aside) is switched to, when its
 * activate mode is auto. Rows the run could not cover (edited while it
 * passed them, an enqueue lost) are enqueued for the space again, at most
 * once every `catchUpEveryMs` per space. Returns the spaces switched to.
 */
export async function completeBuilds(
  deps: Pick<SpaceAdminDeps, 'pool' | 'runs' | 'spaces'> & { embedQueue: Queue<EmbedJobData>; logger: Logger; jobSize: number; catchUpEveryMs?: number },
  lastCatchUp: Map<string, number>,
): Promise<string[]> {
  const switched: string[] = [];
  for (const space of await listSpaces(deps.pool)) {
    if (space.state !== 'building' || !space.buildRunId) continue;
    const run = await deps.runs.get(space.buildRunId).catch((err: unknown) => {
      if (err instanceof KdbError) return null;
      throw err;
    });
    if (!run || run.state !== 'completed') continue;
    const missing = await rowsNeedingWork(deps.pool, space, 20_000);
    if (missing.count > run.failed) {
      const last = lastCatchUp.get(space.modelKey) ?? 0;
      // Only once the queue is drained: jobs still queued for the space (its writes' own) would be doubled.
      if (Date.now() - last >= (deps.catchUpEveryMs ?? 30_000) && !(await queueIsBusy(deps.embedQueue))) {
        lastCatchUp.set(space.modelKey, Date.now());
        await enqueueEmbed(deps.embedQueue, missing.ids, { chunkSize: deps.jobSize, buildingSpaces: [space.modelKey], onlyBuilding: true });
        deps.logger.info({ space: space.modelKey, rows: missing.count }, 'embedding space build: rows it did not cover are enqueued again');
      }
      continue;
    }
    if (space.activate !== 'auto') continue;
    if (await switchTo(deps.pool, space.id)) {
      deps.logger.info({ space: space.modelKey, runId: run.id, withoutVector: missing.count }, 'embedding space built: it is the active space now');
      switched.push(space.modelKey);
    }
  }
  return switched;
}

