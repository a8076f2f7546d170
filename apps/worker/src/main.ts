import {
  CacheStats,
  checkReadiness,
  instrumentProvider,
  isConnectionLoss,
  withSharedBackoff,
  withRequestBudget,
  PipelineMetrics,
  startProbeServer,
  createLogger,
  createPool,
  createProvider,
  createRedis,
  createEmbedQueue,
  migrate,
  providerConfigFromEnv,
  ReindexRunStore,
  startCancelWatcher,
  startEmbedWorker,
  startMaintenance,
  startReindexPlanner,
  SegmentManager,
} from '@kameleondb/core';
import { readEnv } from './env.js';

const env = (() => {
  try {
    return readEnv();
  } catch (err) {
    process.stderr.write(`kameleondb-worker: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
})();
const logger = createLogger('kameleondb-worker', env.KDB_LOG_LEVEL);
// Last line of defence. A lost database connection that surfaces where nobody waits for it (an
// 'error' event, a promise no one awaits) is survived: each transaction it touched rolled back and
// its jobs come back. Anything else uncaught is a bug: exit, so the supervisor starts a clean process.
const uncaught = (kind: string) => (err: unknown) => {
  if (isConnectionLoss(err)) {
    logger.error({ err }, `${kind}: database connection lost; carrying on`);
    return;
  }
  logger.fatal({ err }, `${kind}: exiting`);
  process.exit(1);
};
process.on('uncaughtException', uncaught('uncaught exception'));
process.on('unhandledRejection', uncaught('unhandled rejection'));

try {
  const baseProvider = createProvider(providerConfigFromEnv(env));
  // A local model is loaded (or fetched) before any job is taken.
  await baseProvider.init?.();
  await migrate({ connectionString: env.KDB_DATABASE_URL, dimensions: baseProvider.dimensions });
  const pool = createPool({ connectionString: env.KDB_DATABASE_URL, applicationName: 'kameleondb-worker', max: env.KDB_WORKER_CONCURRENCY * 2 + 4 });
  const redis = createRedis(env.KDB_REDIS_URL);
  const prefix = env.KDB_QUEUE_PREFIX;
  const runs = new ReindexRunStore(redis, pool, prefix);
  const cacheStats = new CacheStats(redis, prefix);
  const cancelWatcher = await startCancelWatcher(env.KDB_REDIS_URL, runs.cancelChannel);
  const embedQueue = createEmbedQueue({ redisUrl: env.KDB_REDIS_URL, prefix, connection: redis });
  const metrics = new PipelineMetrics({ process: 'worker', queues: [embedQueue], activeRuns: () => runs.active() });
  const budgeted = withRequestBudget(instrumentProvider(baseProvider, metrics), {
    redis,
    key: `${prefix}:provider-budget:${baseProvider.modelKey}`,
    requestsPerWindow: env.KDB_PROVIDER_RPM,
    tokensPerWindow: env.KDB_PROVIDER_TPM,
    onWait: (ms) => logger.debug({ ms }, 'provider budget spent: waiting for the next minute'),
  });
  const provider = withSharedBackoff(budgeted, {
    redis,
    key: `${prefix}:provider-pause:${baseProvider.modelKey}`,
    onPause: (ms) => logger.info({ ms }, 'provider rate limit: pausing (shared by all workers)'),
  });
  const pageSize = env.KDB_PLANNER_PAGE_SIZE ?? provider.limits.maxInputs;
  const planner = await startReindexPlanner({
    pool,
    runs,
    embedQueue,
    modelKey: provider.modelKey,
    logger,
    redisUrl: env.KDB_REDIS_URL,
    prefix,
    lockMs: env.KDB_JOB_LOCK_MS,
    pageSize,
    ...(env.KDB_PLANNER_MAX_OUTSTANDING ? { maxOutstanding: env.KDB_PLANNER_MAX_OUTSTANDING } : {}),
  });
  const maintenance = await startMaintenance({
    pool,
    redisUrl: env.KDB_REDIS_URL,
    prefix,
    logger,
    everyMs: env.KDB_CACHE_EVICT_EVERY,
    cacheMaxAgeMs: env.KDB_CACHE_MAX_AGE,
    cacheMaxEntries: env.KDB_CACHE_MAX_ENTRIES,
    ingestKeyTtlMs: env.KDB_IDEMPOTENCY_TTL,
    checkEveryMs: env.KDB_SCHEDULE_CHECK_EVERY,
    runs,
    sweep: {
      embedQueue,
      everyMs: env.KDB_SWEEP_EVERY,
      afterMs: env.KDB_SWEEP_AFTER,
      jobSize: provider.limits.maxInputs,
      onSwept: (n) => metrics.swept.inc(n),
    },
  });
  const workers = await Promise.all(
    Array.from({ length: env.KDB_WORKER_CONCURRENCY }, () =>
      startEmbedWorker({
        pool,
        provider,
        redisUrl: env.KDB_REDIS_URL,
        prefix,
        logger,
        lingerMs: env.KDB_BATCH_LINGER_MS,
        lockMs: env.KDB_JOB_LOCK_MS,
        runs,
        cancelWatcher,
        cacheStats,
        runWriteChunk: env.KDB_RUN_WRITE_CHUNK,
        onBatch: (b) => {
          metrics.batchSize.observe(b.ids);
          metrics.rowsEmbedded.inc(b.written);
          metrics.rowsFailed.inc(b.failed);
          metrics.cacheHits.inc(b.cached);
          metrics.cacheMisses.inc(b.misses);
        },
        ...(env.KDB_BATCH_MAX_IDS ? { maxBatchIds: env.KDB_BATCH_MAX_IDS } : {}),
      }),
    ),
  );
  const segments =
    env.KDB_SEGMENTS === 'on'
      ? new SegmentManager({
          connectionString: env.KDB_DATABASE_URL,
          logger,
          sealRows: env.KDB_SEGMENT_SEAL_ROWS,
          maxHotRows: env.KDB_SEGMENT_MAX_HOT_ROWS,
          // An ingest is under way while embed jobs wait or run: a seal then would take CPU from
          // its last batches (and build the load in two pieces); the idle rule seals after it.
          busy: async () => {
            const c = await embedQueue.getJobCounts('waiting', 'prioritized', 'active');
            return (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0) > 0;
          },
          mergeFactor: env.KDB_SEGMENT_MERGE_FACTOR,
          idleMs: env.KDB_SEGMENT_IDLE,
          buildMemory: env.KDB_SEGMENT_BUILD_MEMORY,
          hnswM: env.KDB_HNSW_M,
          hnswEfConstruction: env.KDB_HNSW_EF_CONSTRUCTION,
          onBuild: (work, ms) => metrics.segmentBuilds.labels(work.kind).observe(ms / 1000),
        }).start()
      : null;
  const probes = await startProbeServer({ port: env.KDB_METRICS_PORT, metrics, readiness: () => checkReadiness(pool, redis) });
  logger.info({ url: probes.url }, 'metrics and probes listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: env.KDB_SHUTDOWN_GRACE_MS }, 'stopping: no new jobs, finishing the batch in hand');
    setTimeout(() => {
      logger.error('grace period over with a batch still running: exiting; its jobs return to the queue after their lock expires');
      process.exit(1);
    }, env.KDB_SHUTDOWN_GRACE_MS).unref();
    Promise.all([...workers.map((w) => w.close()), planner.close(), maintenance.close(), segments?.close()])
      .then(async () => {
        await embedQueue.close();
        await cancelWatcher.close();
        await probes.close();
        await redis.quit().catch(() => undefined);
        await pool.end();
      })
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ err }, `cannot start: ${(err as Error).message}`);
  process.exit(1);
}
