import { Queue, Worker } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { evictCache } from '../cache/cacheAdmin.js';
import { DEFAULTS } from '../config/defaults.js';
import type { EmbedJobData } from './embedQueue.js';
import { createRedis, type RedisTarget } from '../redis/createRedis.js';
import { sweepPending } from './sweepPending.js';
import { maintenanceJobSchema } from './maintenanceJobSchema.js';
import { parseJobData } from './parseJobData.js';
import { expireIngestKeys } from '../ingest/expireIngestKeys.js';
import type { ReindexRunStore } from '../reindex/ReindexRunStore.js';

export const MAINTENANCE_QUEUE = 'maintenance';

export interface MaintenanceOptions {
  pool: pg.Pool;
  /** Where Redis is (a URL or a cluster's seed nodes). */
  redis: RedisTarget;
  prefix: string;
  logger: Logger;
  /** How often eviction runs, in ms. Default DEFAULTS.cacheEvictEveryMs (1 hour). */
  everyMs?: number;
  /** Evict cache entries unused for longer than this. Default: never. */
  cacheMaxAgeMs?: number | undefined;
  /** Keep at most this many cache entries (least recently used go first). Default: no cap. */
  cacheMaxEntries?: number | undefined;
  /** Idempotency keys of ingest requests are kept this long, in ms. Default DEFAULTS.ingestKeyTtlMs (24 hours). */
  ingestKeyTtlMs?: number;
  /** The sweeper: re-enqueues rows stranded in `pending`. */
  sweep?: { embedQueue: Queue<EmbedJobData>; everyMs: number; afterMs: number; jobSize: number; onSwept?: (n: number) => void };
  /**
   * How often this process checks that the schedules still exist in Redis
   * (and ends reindex runs Redis lost), in ms. Default 30 s.
   */
  checkEveryMs?: number;
  /** Reindex runs: the periodic check ends those whose Redis state vanished. */
  runs?: ReindexRunStore;
}

/** Default period of the schedule check: a lost sweeper is back within it. */
export const SCHEDULE_CHECK_EVERY_MS = 30_000;

/**
 * Repeatable maintenance: job schedulers (upserted by every worker, so each
 * exists once however many run) and a worker that runs them: the sweeper,
 * cache eviction by age of last use and by size, and the expiry of ingest
 * idempotency keys.
 *
 * Schedulers live only in Redis, so a FLUSHALL or a restart without
 * persistence deletes them while the workers keep running. Each process
 * puts back any that is missing when its connection becomes ready again and
 * every `checkEveryMs` (a FLUSHALL drops no connection); only missing ones,
 * since upserting a present one would push its next run back.
 */
export async function startMaintenance(opts: MaintenanceOptions): Promise<{ close(): Promise<void> }> {
  const connection = createRedis(opts.redis);
  const queue = new Queue(MAINTENANCE_QUEUE, {
    connection,
    prefix: opts.prefix,
    defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  });
  const enabled = opts.cacheMaxAgeMs !== undefined || opts.cacheMaxEntries !== undefined;
  const keyTtl = opts.ingestKeyTtlMs ?? DEFAULTS.ingestKeyTtlMs;
  const schedules = new Map<string, number>([['ingest-key-expiry', Math.min(600_000, Math.max(1000, Math.floor(keyTtl / 10)))]]);
  if (enabled) schedules.set('cache-eviction', opts.everyMs ?? DEFAULTS.cacheEvictEveryMs);
  else await queue.removeJobScheduler('cache-eviction');
  if (opts.sweep) schedules.set('sweeper', opts.sweep.everyMs);
  else await queue.removeJobScheduler('sweeper');
  // At start every one is upserted, so a changed period takes effect.
  for (const [id, every] of schedules) await queue.upsertJobScheduler(id, { every }, { name: id });

  const restoreMissing = async () => {
    for (const [id, every] of schedules) {
      if (await queue.getJobScheduler(id)) continue;
      await queue.upsertJobScheduler(id, { every }, { name: id });
      opts.logger.warn({ schedule: id, everyMs: every }, 'schedule was missing in Redis (flushed or restarted without persistence): registered again');
    }
    const lost = await opts.runs?.failLostRuns();
    if (lost) opts.logger.warn({ runs: lost }, 'reindex runs lost in Redis marked failed');
  };
  let checking = false;
  const check = () => {
    if (checking) return;
    checking = true;
    restoreMissing()
      .catch((err: unknown) => opts.logger.warn({ err }, 'schedule check failed; retrying at the next one'))
      .finally(() => {
        checking = false;
      });
  };
  const timer = setInterval(check, opts.checkEveryMs ?? SCHEDULE_CHECK_EVERY_MS);
  timer.unref();
  // 'ready' fires again after every reconnect (a restarted Redis may have lost everything).
  connection.on('ready', check);
  const worker = new Worker(
    MAINTENANCE_QUEUE,
    async (job) => {
      parseJobData(MAINTENANCE_QUEUE, maintenanceJobSchema, { id: job.id, name: job.name, data: { name: job.name, data: job.data } });
      if (job.name === 'sweeper' && opts.sweep) {
        const n = await sweepPending(opts.pool, opts.sweep.embedQueue, opts.sweep);
        if (n) opts.logger.info({ requeued: n }, 'sweeper re-enqueued stranded pending rows');
        opts.sweep.onSwept?.(n);
        return { requeued: n };
      }
      if (job.name === 'ingest-key-expiry') {
        const expired = await expireIngestKeys(opts.pool, keyTtl);
        if (expired) opts.logger.info({ expired }, 'idempotency keys expired');
        return { expired };
      }
      if (job.name !== 'cache-eviction') return null;
      const evicted = await evictCache(opts.pool, {
        ...(opts.cacheMaxAgeMs !== undefined ? { maxAgeMs: opts.cacheMaxAgeMs } : {}),
        ...(opts.cacheMaxEntries !== undefined ? { maxEntries: opts.cacheMaxEntries } : {}),
      });
      opts.logger.info(evicted, 'cache eviction');
      return evicted;
    },
    { connection: createRedis(opts.redis), prefix: opts.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => opts.logger.error({ err }, 'maintenance connection error'));
  return {
    async close() {
      clearInterval(timer);
      connection.off('ready', check);
      await worker.close();
      await queue.close();
      await connection.quit().catch(() => undefined);
    },
  };
}
