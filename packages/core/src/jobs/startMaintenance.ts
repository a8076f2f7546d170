import { Queue, Worker } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { evictCache } from '../cache/cacheAdmin.js';
import { createRedis, type EmbedJobData } from './embedQueue.js';
import { sweepPending } from './sweepPending.js';
import { maintenanceJobSchema } from './maintenanceJobSchema.js';
import { parseJobData } from './parseJobData.js';
import { expireIngestKeys } from '../ingest/expireIngestKeys.js';

export const MAINTENANCE_QUEUE = 'maintenance';

export interface MaintenanceOptions {
  pool: pg.Pool;
  redisUrl: string;
  prefix: string;
  logger: Logger;
  /** How often eviction runs, in ms. Default 1 hour. */
  everyMs?: number;
  /** Evict cache entries unused for longer than this. Default: never. */
  cacheMaxAgeMs?: number | undefined;
  /** Keep at most this many cache entries (least recently used go first). Default: no cap. */
  cacheMaxEntries?: number | undefined;
  /** Idempotency keys of ingest requests are kept this long. Default 24 hours. */
  ingestKeyTtlMs?: number;
  /** The sweeper: re-enqueues rows stranded in `pending`. */
  sweep?: { embedQueue: Queue<EmbedJobData>; everyMs: number; afterMs: number; jobSize: number; onSwept?: (n: number) => void };
}

/**
 * Repeatable maintenance: job schedulers (upserted by every worker, so each
 * exists once however many run) and a worker that runs them: the sweeper,
 * cache eviction by age of last use and by size, and the expiry of ingest
 * idempotency keys.
 */
export async function startMaintenance(opts: MaintenanceOptions): Promise<{ close(): Promise<void> }> {
  const connection = createRedis(opts.redisUrl);
  const queue = new Queue(MAINTENANCE_QUEUE, {
    connection,
    prefix: opts.prefix,
    defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  });
  const enabled = opts.cacheMaxAgeMs !== undefined || opts.cacheMaxEntries !== undefined;
  if (enabled) {
    await queue.upsertJobScheduler('cache-eviction', { every: opts.everyMs ?? 3_600_000 }, { name: 'cache-eviction' });
  } else {
    await queue.removeJobScheduler('cache-eviction');
  }
  const keyTtl = opts.ingestKeyTtlMs ?? 86_400_000;
  await queue.upsertJobScheduler('ingest-key-expiry', { every: Math.min(600_000, Math.max(1000, Math.floor(keyTtl / 10))) }, { name: 'ingest-key-expiry' });
  if (opts.sweep) await queue.upsertJobScheduler('sweeper', { every: opts.sweep.everyMs }, { name: 'sweeper' });
  else await queue.removeJobScheduler('sweeper');
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
    { connection: createRedis(opts.redisUrl), prefix: opts.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => opts.logger.error({ err }, 'maintenance connection error'));
  return {
    async close() {
      await worker.close();
      await queue.close();
      await connection.quit().catch(() => undefined);
    },
  };
}
