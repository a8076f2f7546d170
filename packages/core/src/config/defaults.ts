/**
 * Defaults of the options that the apps' environment variables override.
 * Core's options fall back to these, and the env schemas (pipelineEnv.ts,
 * apps/*\/src/env.ts) default to them, so each is written once.
 */
export const DEFAULTS = {
  /** BullMQ key prefix (KDB_QUEUE_PREFIX): the braces are a Redis Cluster hash tag, so every key of a queue lives in one slot. */
  queuePrefix: '{kdb}',
  /** Job lock of embed and planner workers in ms (KDB_JOB_LOCK_MS), renewed while a job runs; a dead worker's jobs return after it. */
  jobLockMs: 30_000,
  /** How long an embed worker waits for more jobs once one is in hand, in ms (KDB_BATCH_LINGER_MS). */
  batchLingerMs: 25,
  /** Rows per write transaction in batches holding reindex jobs, so a cancel lands between them (KDB_RUN_WRITE_CHUNK). */
  runWriteChunk: 256,
  /** Ids per embed job of an ingest, one full provider request (KDB_JOB_SIZE); also the planner's page size when none is given. */
  jobSize: 2048,
  /** fastembed: folder of model folders, never the working directory (KDB_MODEL_DIR). */
  modelDir: '/var/lib/kameleondb/models',
  /** fastembed: tokens per input; longer texts are truncated (KDB_MODEL_MAX_LENGTH). */
  modelMaxLength: 256,
  /** Ingest idempotency keys are remembered this long, in ms (KDB_IDEMPOTENCY_TTL): a day. */
  ingestKeyTtlMs: 86_400_000,
  /** How often cache eviction runs, in ms (KDB_CACHE_EVICT_EVERY): an hour. */
  cacheEvictEveryMs: 3_600_000,
  /** How often each worker looks for a finished embedding-space build to switch to, in ms. */
  spaceBuildCheckMs: 1_000,
  /** Vector writes quiet this long, in ms, make the segment manager seal whatever is hot and merge (KDB_SEGMENT_IDLE). */
  segmentIdleMs: 3_000,
  /** maintenance_work_mem of segment builds (KDB_SEGMENT_BUILD_MEMORY). */
  segmentBuildMemory: '1GB',
} as const;

/** A Postgres memory size as segment builds accept it (512MB, 1GB, 65536kB; Postgres allows the space). */
export const BUILD_MEMORY_PATTERN = /^\d+\s*(kB|MB|GB)$/;
