import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type Job } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { DEFAULTS } from '../config/defaults.js';
import { EMBED_QUEUE, embedJobDataSchema, type EmbedJobData } from '../jobs/embedQueue.js';
import { createRedis, type RedisTarget } from '../redis/createRedis.js';
import { parseJobData } from '../jobs/parseJobData.js';
import { markRowsFailed, selectRowsNeedingWork } from '../store/searchRowStore.js';
import type { EmbeddingSpace } from '../store/embeddingSpaceStore.js';
import { SpaceProviders } from '../spaces/SpaceProviders.js';
import { KdbError } from '../errors.js';
import { isConnectionLoss } from '../store/isConnectionLoss.js';
import type { CacheStats } from '../cache/CacheStats.js';
import { EmbedClaims } from '../cache/EmbedClaims.js';
import type { CancelWatcher } from '../reindex/CancelWatcher.js';
import type { ReindexRunStore } from '../reindex/ReindexRunStore.js';
import { embedBatch, type EmbedBatchResult, type Outcome } from './embedBatch.js';

export interface EmbedWorkerOptions {
  pool: pg.Pool;
  /**
   * The spaces and a provider per space (jobs name their space; absent: the
   * active one). Default: `provider` alone, for the space of its model key.
   */
  spaces?: SpaceProviders;
  /** The provider of the default `spaces`. Required without `spaces`. */
  provider?: EmbeddingProvider;
  /** Where Redis is (a URL or a cluster's seed nodes). */
  redis: RedisTarget;
  /** BullMQ key prefix. Default `{kdb}`. */
  prefix?: string;
  logger: Logger;
  /** Most record ids coalesced into one batch. Default: `provider`'s maxInputs, else 2048. */
  maxBatchIds?: number;
  /** How long to wait for more jobs once one is in hand, in ms. Default 25. */
  lingerMs?: number;
  /** Job lock; renewed while a batch runs. A dead worker's jobs return after it. Default 30000. */
  lockMs?: number;
  /** Called after each batch commits (metrics, progress). */
  onBatch?: (result: EmbedBatchResult & { jobs: number; ids: number; ms: number }) => void;
  /** Reindex runs: progress of run jobs and their cancellation. */
  runs?: ReindexRunStore;
  /** Aborts in-flight provider requests of cancelled runs. */
  cancelWatcher?: CancelWatcher;
  cacheStats?: CacheStats;
  /** Rows per write transaction in batches holding reindex jobs, so a cancel lands between them. Default 256. */
  runWriteChunk?: number;
  /**
   * In-flight claims on texts, shared by every worker (EmbedClaims), or `false` for none.
   * Default: claims with EmbedClaims' defaults on a Redis connection of this worker's own.
   */
  claims?: EmbedClaims | false;
}

export interface EmbedWorker {
  /** Totals since start. */
  readonly totals: { batches: number; jobs: number } & EmbedBatchResult;
  /** Stops taking jobs, finishes the batch in hand, closes connections. */
  close(): Promise<void>;
}

interface HeldJob {
  job: Job;
  token: string;
  /** The job's data, validated. */
  data: EmbedJobData;
}

/**
 * Pulls embed jobs with BullMQ's manual fetching and coalesces them: after
 * the first job arrives it keeps taking waiting jobs without blocking until
 * `maxBatchIds` ids are in hand or `lingerMs` passed. Jobs are completed only
 * after the batch's write committed.
 */
export async function startEmbedWorker(opts: EmbedWorkerOptions): Promise<EmbedWorker> {
  const log = opts.logger;
  // With several spaces, embedBatch still cuts each provider's requests to its own limit.
  const maxIds = opts.provider ? Math.min(opts.maxBatchIds ?? opts.provider.limits.maxInputs, opts.provider.limits.maxInputs) : (opts.maxBatchIds ?? 2048);
  if (!opts.spaces && !opts.provider) throw new Error('startEmbedWorker needs `spaces` or a `provider`');
  const spaces = opts.spaces ?? SpaceProviders.single(opts.pool, opts.provider!);
  const lingerMs = opts.lingerMs ?? DEFAULTS.batchLingerMs;
  const lockMs = opts.lockMs ?? DEFAULTS.jobLockMs;
  const workerId = randomUUID().slice(0, 8);
  const worker = new Worker(EMBED_QUEUE, null, {
    connection: createRedis(opts.redis),
    prefix: opts.prefix ?? DEFAULTS.queuePrefix,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
    maxStalledCount: 10,
    drainDelay: 1,
    autorun: false,
  });
  worker.on('error', (err) => log.error({ err }, 'embed worker connection error'));
  await worker.waitUntilReady();
  const claimsConnection = opts.claims === undefined ? createRedis(opts.redis) : undefined;
  const claims = claimsConnection ? new EmbedClaims(claimsConnection, opts.prefix ?? DEFAULTS.queuePrefix, { logger: log }) : opts.claims || undefined;
  // Manual fetching does not run the stalled-job check by itself: it is what
  // brings back the jobs of a worker that died (SIGKILL, OOM) mid-batch.
  void worker.startStalledCheckTimer();

  const totals = { batches: 0, jobs: 0, rows: 0, written: 0, embedded: 0, cached: 0, misses: 0, failed: 0, requests: 0 };
  const runs = opts.runs;
  let closing = false;
  let seq = 0;
  const nextToken = () => `${workerId}:${seq++}`;

  /**
   * The next job, or undefined when none is waiting, or null when the one
   * taken was malformed: it is failed at once, alone, without retries, so it
   * can neither crash the worker nor sink the batch it would have joined.
   */
  const take = async (block: boolean): Promise<HeldJob | undefined | null> => {
    const token = nextToken();
    const job = (await worker.getNextJob(token, { block })) as Job | undefined;
    if (!job) return undefined;
    try {
      return { job, token, data: parseJobData(EMBED_QUEUE, embedJobDataSchema, job) };
    } catch (err) {
      log.error({ err, jobId: job.id }, 'malformed embed job failed');
      await job.moveToFailed(err as Error, token, false).catch((e: unknown) => log.warn({ err: e, jobId: job.id }, 'could not fail malformed job'));
      return null;
    }
  };

  async function collect(first: HeldJob): Promise<HeldJob[]> {
    const held = [first];
    let ids = first.data.ids.length;
    const deadline = Date.now() + lingerMs;
    while (ids < maxIds && !closing) {
      const next = await take(false);
      if (next === null) continue;
      if (next) {
        held.push(next);
        ids += next.data.ids.length;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(5, left));
    }
    return held;
  }

  async function finish(held: HeldJob[], result: EmbedBatchResult | Error | 'cancelled'): Promise<void> {
    for (const { job, token, data } of held) {
      try {
        if (result instanceof Error) await job.moveToFailed(result, token, false);
        else await job.moveToCompleted({ rows: data.ids.length, ...(result === 'cancelled' ? { cancelled: true } : {}) }, token, false);
      } catch (err) {
        // Lost lock (we were too slow and another worker took it): it redoes
        // the job, which is idempotent.
        log.warn({ err, jobId: job.id }, 'could not settle job');
      }
    }
  }

  /** Back to the queue after a growing delay (capped), without spending one of the job's attempts. */
  async function postpone(held: HeldJob[]): Promise<void> {
    for (const { job, token } of held) {
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(Math.max(job.attemptsStarted - 1, 0), 5));
      try {
        await job.moveToDelayed(Date.now() + delay * (0.5 + Math.random() / 2), token);
      } catch (err) {
        // Lock lost or Redis unreachable: the stalled-job check returns it to the queue.
        log.warn({ err, jobId: job.id }, 'could not postpone job');
      }
    }
  }

  /** Adds each run job's counts to its run, once per job. */
  async function reportRuns(held: HeldJob[], outcomeOf: (id: string) => Outcome): Promise<void> {
    if (!runs) return;
    for (const { job, data } of held) {
      if (!data.runId) continue;
      const c = { processed: data.ids.length, embedded: 0, cached: 0, failed: 0 };
      for (const id of data.ids) {
        const o = outcomeOf(id);
        if (o === 'embedded' || o === 'cached' || o === 'failed') c[o] += 1;
      }
      await runs.recordProgress(data.runId, job.id!, c).catch((err: unknown) => log.warn({ err }, 'run progress not recorded'));
    }
  }

  /**
   * Splits the jobs by the space they embed into and runs each group. A job
   * naming a space that no longer exists (dropped) has nothing left to do;
   * the jobs of a space whose provider this process cannot build wait and
   * come back (never dropped), the reason in the log and in readiness.
   */
  async function runBatch(all: HeldJob[]): Promise<void> {
    const groups = new Map<string, { space: EmbeddingSpace; held: HeldJob[] }>();
    const settled = new Set<HeldJob>();
    for (const h of all) {
      let space: EmbeddingSpace;
      try {
        space = await spaces.space(h.data.space ?? null);
      } catch (err) {
        if (err instanceof KdbError && err.code === 'not_found') {
          await finish([h], 'cancelled');
          settled.add(h);
          continue;
        }
        if (isConnectionLoss(err as Error)) {
          // As in a batch: Postgres away is not the jobs' fault (no attempt spent), one try a second.
          log.warn({ err, jobs: all.length }, 'embedding spaces unreadable: Postgres is away');
          await postpone(all.filter((x) => !settled.has(x)));
          await sleep(1000);
          return;
        }
        throw err;
      }
      const g = groups.get(space.modelKey) ?? { space, held: [] };
      g.held.push(h);
      groups.set(space.modelKey, g);
    }
    for (const { space, held } of groups.values()) {
      let provider: EmbeddingProvider;
      try {
        provider = await spaces.providerFor(space);
      } catch (err) {
        log.error({ err, space: space.modelKey, jobs: held.length }, 'cannot build the provider of this embedding space: its jobs wait');
        await postpone(held);
        continue;
      }
      await runSpaceBatch(held, space, provider);
    }
  }

  async function runSpaceBatch(all: HeldJob[], space: EmbeddingSpace, provider: EmbeddingProvider): Promise<void> {
    // Jobs of runs cancelled meanwhile are settled without work.
    const runIds = [...new Set(all.map((h) => h.data.runId).filter((r): r is string => !!r))];
    const over = runs && runIds.length ? await runs.finishedAmong(runIds) : new Set<string>();
    const dropped = all.filter((h) => h.data.runId && over.has(h.data.runId));
    if (dropped.length) await finish(dropped, 'cancelled');
    const held = all.filter((h) => !dropped.includes(h));
    if (held.length === 0) return;

    const ids = [...new Set(held.flatMap((h) => h.data.ids))];
    const forceIds = [...new Set(held.filter((h) => h.data.force).flatMap((h) => h.data.ids))];
    const liveRunIds = runIds.filter((r) => !over.has(r));
    const started = Date.now();
    const abort = new AbortController();
    // Abort the provider request only when every job of the batch belongs to cancelled runs.
    const stopWatching = opts.cancelWatcher?.onCancel(() => {
      if (held.every((h) => h.data.runId && opts.cancelWatcher!.cancelled.has(h.data.runId))) abort.abort(new Error('run cancelled'));
    });
    const beforeWrite =
      runs && liveRunIds.length
        ? async (chunk: string[]) => {
            const cancelled = await runs.finishedAmong(liveRunIds);
            if (cancelled.size === 0) return chunk;
            const banned = new Set(held.filter((h) => h.data.runId && cancelled.has(h.data.runId)).flatMap((h) => h.data.ids));
            return chunk.filter((id) => !banned.has(id));
          }
        : undefined;
    const renew = setInterval(() => {
      for (const { job, token } of held) void job.extendLock(token, lockMs).catch(() => undefined);
    }, Math.max(500, Math.floor(lockMs / 3)));
    try {
      const result = await embedBatch({
        pool: opts.pool,
        provider,
        space,
        ids,
        forceIds,
        signal: abort.signal,
        ...(claims ? { claims } : {}),
        ...(beforeWrite ? { beforeWrite, writeChunkSize: opts.runWriteChunk ?? DEFAULTS.runWriteChunk } : {}),
      });
      clearInterval(renew);
      // Counted as soon as the rows are written: a client waiting on their status sees it change at that commit.
      totals.batches += 1;
      totals.jobs += held.length;
      for (const k of ['rows', 'written', 'embedded', 'cached', 'misses', 'failed', 'requests'] as const) totals[k] += result[k];
      const ms = Date.now() - started;
      log.debug({ space: space.modelKey, jobs: held.length, ids: ids.length, ...result, outcomes: undefined, ms }, 'embed batch');
      opts.onBatch?.({ ...result, jobs: held.length, ids: ids.length, ms });
      await finish(held, result);
      await reportRuns(held, (id) => result.outcomes.get(id) ?? 'skipped');
      await opts.cacheStats?.add(result.cached, result.misses).catch(() => undefined);
    } catch (err) {
      clearInterval(renew);
      if (abort.signal.aborted) {
        log.info({ jobs: held.length }, 'batch of a cancelled run dropped');
        await finish(held, 'cancelled');
        return;
      }
      const error = err instanceof Error ? err : new Error(String(err));
      log.warn({ err: error, jobs: held.length }, 'embed batch failed');
      if (isConnectionLoss(error)) {
        // Postgres went away (restart, failover): not the rows' fault, so no attempt is spent and
        // no row is marked failed, however long the outage. What the batch committed before (cache
        // entries) the redo finds and skips.
        await postpone(held);
        // Taking the next jobs at once would only postpone them too, churning through the whole
        // queue while the server is away: one try a second until it answers.
        await sleep(1000);
        return;
      }
      // On the last attempt the rows are marked failed with the reason (and stay
      // retryable by reindex); before that BullMQ retries with backoff.
      const last = held.filter(({ job }) => job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      if (last.length) {
        const lastIds = last.flatMap(({ data }) => data.ids);
        const rows = await selectRowsNeedingWork(opts.pool, lastIds, space).catch(() => []);
        await markRowsFailed(opts.pool, space, rows.map((r) => r.record_id), rows.map((r) => r.content_hash), error.message).catch(() => 0);
        const failedIds = new Set(rows.map((r) => r.record_id));
        await reportRuns(last, (id) => (failedIds.has(id) ? 'failed' : 'skipped'));
      }
      await finish(held, error);
    } finally {
      stopWatching?.();
    }
  }

  const loop = (async () => {
    while (!closing) {
      let first: HeldJob | undefined | null;
      try {
        first = await take(true);
      } catch (err) {
        if (closing) break;
        log.error({ err }, 'fetching embed jobs failed; retrying');
        await sleep(1000);
        continue;
      }
      if (!first) continue; // none waiting, or a malformed job already failed
      try {
        await runBatch(await collect(first));
      } catch (err) {
        // An error outside the batch's own handling (Redis gone while collecting or settling)
        // must not end the loop: jobs left unsettled come back through the stalled-job check.
        log.error({ err }, 'embed batch aborted; its unsettled jobs return after their lock expires');
        await sleep(1000);
      }
    }
  })();

  log.info({ workerId, maxIds, lingerMs, provider: opts.provider?.modelKey }, 'embed worker started');
  return {
    totals,
    async close() {
      closing = true;
      // The blocking fetch returns within drainDelay (1 s); the batch in hand finishes first.
      await loop;
      await worker.close();
      await claimsConnection?.quit().catch(() => undefined);
      log.info({ workerId, totals }, 'embed worker stopped');
    },
  };
}
