import { z } from 'zod';
import { BUILD_MEMORY_PATTERN, checkRedisEnv, DEFAULT_SEGMENT_POLICY, DEFAULTS, HNSW_BUILD, parseDuration, parseEnv, pipelineEnvShape, SCHEDULE_CHECK_EVERY_MS } from '@kameleondb/core';

const duration = z.string().transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const schema = z
  .object({
  ...pipelineEnvShape,
  /** Embed loops in this process (each holds one batch at a time). */
  KDB_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Most record ids coalesced into one batch; capped by the provider's inputs per request. */
  KDB_BATCH_MAX_IDS: z.coerce.number().int().min(1).max(100_000).optional(),
  /** Time to wait for more jobs once one is in hand, in ms. */
  KDB_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(10_000).default(DEFAULTS.batchLingerMs),
  /** Job lock, renewed while a batch runs; a dead worker's jobs return to the queue after it. */
  KDB_JOB_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(DEFAULTS.jobLockMs),
  /** Rows per reindex planner page (one embed job each); default: the provider's max inputs. */
  KDB_PLANNER_PAGE_SIZE: z.coerce.number().int().min(1).max(100_000).optional(),
  /** Rows a run's planner may enqueue ahead of the workers. Default 16 pages. */
  KDB_PLANNER_MAX_OUTSTANDING: z.coerce.number().int().min(1).optional(),
  /** Lease of a worker's in-flight claim on a text it embeds: another worker waiting for that text embeds it itself this long after the holder died. */
  KDB_EMBED_CLAIM_LEASE_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** Longest wait for a text another live worker is embedding; past it the waiter embeds the text itself. */
  KDB_EMBED_CLAIM_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  /** Rows per write transaction in reindex batches (a cancel lands between them). */
  KDB_RUN_WRITE_CHUNK: z.coerce.number().int().min(1).default(DEFAULTS.runWriteChunk),
  /** Cache entries unused for longer than this are evicted (30d, 12h…). Default: never. */
  KDB_CACHE_MAX_AGE: duration.optional(),
  /** At most this many cache entries; least recently used go first. Default: no cap. */
  KDB_CACHE_MAX_ENTRIES: z.coerce.number().int().min(0).optional(),
  /** Provider requests per minute, shared by all workers (0: no budget). */
  KDB_PROVIDER_RPM: z.coerce.number().int().min(0).default(0),
  /** Provider tokens per minute (estimated as characters / 4), shared by all workers (0: no budget). */
  KDB_PROVIDER_TPM: z.coerce.number().int().min(0).default(0),
  /** Port of the worker's /metrics, /healthz and /readyz (0: any free port). */
  KDB_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** Pending rows older than this with an idle queue are re-enqueued by the sweeper. */
  KDB_SWEEP_AFTER: duration.default(300_000),
  /** Idempotency keys of ingest requests are remembered this long (a retry within it never duplicates). */
  KDB_IDEMPOTENCY_TTL: duration.default(DEFAULTS.ingestKeyTtlMs),
  /** How often the sweeper runs. */
  KDB_SWEEP_EVERY: duration.default(60_000),
  /** How often each worker checks that the maintenance schedules still exist in Redis and puts back lost ones. */
  KDB_SCHEDULE_CHECK_EVERY: duration.default(SCHEDULE_CHECK_EVERY_MS),
  /** After SIGTERM, the batch in hand gets this long before the process exits anyway (its jobs then return via the stalled check). */
  KDB_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(55_000),
  /** Build vector segment indexes in this process (one worker at a time does; the others stand by). */
  KDB_SEGMENTS: z.enum(['on', 'off']).default('on'),
  /** Seal the hot (exactly scanned) vectors into an HNSW segment once this many are written and no ingest backlog waits. */
  KDB_SEGMENT_SEAL_ROWS: z.coerce.number().int().min(100).default(DEFAULT_SEGMENT_POLICY.sealRows),
  /** Seal at this many hot vectors even while an ingest backlog waits (exact scans above it cost more than the build). */
  KDB_SEGMENT_MAX_HOT_ROWS: z.coerce.number().int().min(100).default(DEFAULT_SEGMENT_POLICY.maxHotRows),
  /** Merge this many neighbouring segments of one size class into one. */
  KDB_SEGMENT_MERGE_FACTOR: z.coerce.number().int().min(2).max(32).default(DEFAULT_SEGMENT_POLICY.mergeFactor),
  /** Vector writes quiet for this long: seal whatever is hot and merge. */
  KDB_SEGMENT_IDLE: duration.default(DEFAULTS.segmentIdleMs),
  /** HNSW links per node of segment indexes (more: better recall on clustered data, slower builds and queries). */
  KDB_HNSW_M: z.coerce.number().int().min(2).max(100).default(HNSW_BUILD.m),
  /** HNSW build candidate list of segment indexes (at least 2 × KDB_HNSW_M). */
  KDB_HNSW_EF_CONSTRUCTION: z.coerce.number().int().min(4).max(1000).default(HNSW_BUILD.efConstruction),
  /** maintenance_work_mem of segment builds (512MB, 1GB…). */
  KDB_SEGMENT_BUILD_MEMORY: z.string().regex(BUILD_MEMORY_PATTERN, 'a size such as 512MB or 1GB').default(DEFAULTS.segmentBuildMemory),
  /** How often cache eviction runs (a duration; default 1h). */
  KDB_CACHE_EVICT_EVERY: duration.default(DEFAULTS.cacheEvictEveryMs),
  })
  .superRefine(checkRedisEnv);

export type WorkerEnv = z.infer<typeof schema>;

export function readEnv(env: Record<string, string | undefined> = process.env): WorkerEnv {
  return parseEnv(schema, env);
}
