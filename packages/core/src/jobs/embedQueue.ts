import { Queue, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { withTimeout } from '../util/withTimeout.js';
import { DEFAULTS } from '../config/defaults.js';
import { createRedis, type RedisClient, type RedisTarget } from '../redis/createRedis.js';

export const EMBED_QUEUE = 'embed';

/** Most ids one embed job may carry (KDB_JOB_SIZE's maximum). */
export const MAX_EMBED_JOB_IDS = 100_000;

/**
 * An embed job's data, checked by the worker before any work: jobs come from
 * Redis, where anyone with access (or the dashboard) can add one.
 */
export const embedJobDataSchema = z
  .object({
    /** Record ids; the rows are read from Postgres, never carried in Redis. */
    ids: z.array(z.guid('ids must be record ids (UUIDs)')).max(MAX_EMBED_JOB_IDS, `ids may hold at most ${MAX_EMBED_JOB_IDS} record ids`),
    /** Reindex run the job belongs to, if any. */
    runId: z.guid('runId must be a reindex run id (a UUID)').optional(),
    /** Process the rows even when up to date (a forced reindex). */
    force: z.boolean().optional(),
    /** Model key of the embedding space to embed into; absent: the active space when the job runs. */
    space: z.string().min(1).max(500).optional(),
  })
  .strict();

export type EmbedJobData = z.infer<typeof embedJobDataSchema>;

/** Reindex jobs yield to live inserts and updates (BullMQ: larger number, lower priority). */
export const REINDEX_JOB_PRIORITY = 10;

/** Inserts and updates embedded into a space being built yield to those of the active space. */
export const BUILDING_SPACE_JOB_PRIORITY = 5;

export interface QueueOptions {
  /** Where Redis is: a URL (redis://127.0.0.1:6379) or a cluster's seed nodes; unused when `connection` is given. */
  redis?: RedisTarget;
  /** BullMQ key prefix. Default DEFAULTS.queuePrefix, `{kdb}` (a Redis Cluster hash tag). */
  prefix?: string;
}

/** Retries with backoff for provider outages; bounded history so Redis memory stays flat. */
export const EMBED_JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: 3600, count: 5000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** The connection a queue uses: the one given (left open by close()), else a new one to `redis`. */
export function queueConnection(opts: QueueOptions & { connection?: RedisClient }): RedisClient {
  if (opts.connection) return opts.connection;
  if (!opts.redis) throw new Error('a queue needs `connection` or `redis`');
  return createRedis(opts.redis);
}

export function createEmbedQueue(opts: QueueOptions & { connection?: RedisClient }): Queue<EmbedJobData> {
  return new Queue<EmbedJobData>(EMBED_QUEUE, {
    connection: queueConnection(opts),
    prefix: opts.prefix ?? DEFAULTS.queuePrefix,
    defaultJobOptions: EMBED_JOB_OPTIONS,
    streams: { events: { maxLen: 10_000 } },
  });
}

/**
 * How long an enqueue may wait for Redis. Past it the caller gets an error
 * (the rows are already committed and `pending`: the sweeper takes them), not
 * a request held until Redis comes back.
 */
export const ENQUEUE_TIMEOUT_MS = 3000;

/**
 * Enqueues embed jobs of at most `chunkSize` ids each, in one `addBulk`.
 * Jobs the size of a provider request let one job fill one request; the
 * worker still coalesces small jobs (single inserts, PATCHes) up to that size.
 */
export async function enqueueEmbed(
  queue: Queue<EmbedJobData>,
  ids: readonly string[],
  opts: {
    chunkSize: number;
    runId?: string;
    timeoutMs?: number;
    /** Spaces being built (model keys): each gets the same jobs too, at a lower priority. */
    buildingSpaces?: readonly string[];
    /** Only the jobs of `buildingSpaces` (a build's catch-up), none for the active space. */
    onlyBuilding?: boolean;
  },
): Promise<number> {
  if (ids.length === 0) return 0;
  const jobs: { name: string; data: EmbedJobData; opts?: JobsOptions }[] = [];
  for (let i = 0; i < ids.length; i += opts.chunkSize) {
    const data: EmbedJobData = { ids: ids.slice(i, i + opts.chunkSize) };
    if (opts.runId) data.runId = opts.runId;
    if (!opts.onlyBuilding) jobs.push({ name: 'embed', data });
    for (const space of opts.buildingSpaces ?? []) jobs.push({ name: 'embed', data: { ...data, space }, opts: { priority: BUILDING_SPACE_JOB_PRIORITY } });
  }
  // On a timeout the jobs may still be added once Redis returns (ioredis'
  // offline queue); a job for a row already ready is a skipped lookup.
  await withTimeout(queue.addBulk(jobs), opts.timeoutMs ?? ENQUEUE_TIMEOUT_MS, 'Redis (enqueue of embed jobs)');
  return jobs.length;
}
