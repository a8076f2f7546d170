import { Queue, Worker } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { evictCache } from '../cache/cacheAdmin.js';
import { createRedis } from './embedQueue.js';

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
}

/**
 * Repeatable maintenance: a job scheduler (upserted by every worker, so it
 * exists once however many run) and a worker that evicts the cache by age
 * of last use and by size.
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
  const worker = new Worker(
    MAINTENANCE_QUEUE,
    async (job) => {
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
