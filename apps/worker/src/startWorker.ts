import {
  CacheStats,
  checkReadiness,
  completeBuilds,
  DEFAULTS,
  createEmbedQueue,
  createLogger,
  createPool,
  createProvider,
  createRedis,
  EmbedClaims,
  redisTargetOf,
  createWorkerProvider,
  migrate,
  observeBatch,
  PipelineMetrics,
  providerConfigForSpace,
  providerConfigFromEnv,
  spaceSeedOf,
  SpaceProviders,
  queueIsBusy,
  ReindexRunStore,
  SegmentManager,
  startCancelWatcher,
  startEmbedWorker,
  startMaintenance,
  startProbeServer,
  startReindexPlanner,
} from '@kameleondb/core';
import type { Logger } from 'pino';
import type { WorkerEnv } from './env.js';

export interface RunningWorker {
  /** Base URL of /metrics, /healthz and /readyz. */
  probesUrl: string;
  logger: Logger;
  /** Takes no new job, lets the batch in hand finish, then closes queues, connections and pools. */
  close(): Promise<void>;
}

export async function startWorker(env: WorkerEnv, logger: Logger = createLogger('kameleondb-worker', env.KDB_LOG_LEVEL)): Promise<RunningWorker> {
  // The configured provider seeds the first space of a new database; afterwards each space's
  // provider is built from its row and this environment's secrets.
  const baseProvider = createProvider(providerConfigFromEnv(env));
  const migrated = await migrate({ connectionString: env.KDB_DATABASE_URL, space: spaceSeedOf(baseProvider, env.OPENAI_BASE_URL) });
  if (migrated.configured) {
    logger.warn(
      { active: migrated.active?.modelKey, configured: migrated.configured },
      'KDB_EMBEDDING_* name another model than the active embedding space: embedding for the active space. To migrate to the configured one: POST /v1/spaces {provider, model, dimensions} (kameleondb embeddings migrate)',
    );
  }
  const pool = createPool({ connectionString: env.KDB_DATABASE_URL, applicationName: 'kameleondb-worker', max: env.KDB_WORKER_CONCURRENCY * 2 + 4 });
  const target = redisTargetOf(env);
  const redis = createRedis(target);
  const prefix = env.KDB_QUEUE_PREFIX;
  const runs = new ReindexRunStore(redis, pool, prefix);
  const cacheStats = new CacheStats(redis, prefix);
  const cancelWatcher = await startCancelWatcher(target, runs.cancelChannel);
  const embedQueue = createEmbedQueue({ prefix, connection: redis });
  const metrics = new PipelineMetrics({ process: 'worker', queues: [embedQueue], activeRuns: () => runs.active() });
  const wrap = { redis, prefix, metrics, logger, requestsPerMinute: env.KDB_PROVIDER_RPM, tokensPerMinute: env.KDB_PROVIDER_TPM };
  // One provider per space, each with the metrics, shared budget and backoff of a worker (keyed by its model key).
  const spaces = new SpaceProviders({
    pool,
    build: (space) => createWorkerProvider(space.modelKey === baseProvider.modelKey ? baseProvider : createProvider(providerConfigForSpace(env, space)), wrap),
  });
  // A local model of the active space is loaded (or fetched) before any job is taken.
  await spaces.active();
  const provider = baseProvider;
  const planner = await startReindexPlanner({
    pool,
    runs,
    embedQueue,
    logger,
    redis: target,
    prefix,
    lockMs: env.KDB_JOB_LOCK_MS,
    pageSize: env.KDB_PLANNER_PAGE_SIZE ?? provider.limits.maxInputs,
    ...(env.KDB_PLANNER_MAX_OUTSTANDING ? { maxOutstanding: env.KDB_PLANNER_MAX_OUTSTANDING } : {}),
  });
  const maintenance = await startMaintenance({
    pool,
    redis: target,
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
  // One set of claims for the process's embed loops, on its shared connection.
  const claims = new EmbedClaims(redis, prefix, { leaseMs: env.KDB_EMBED_CLAIM_LEASE_MS, maxWaitMs: env.KDB_EMBED_CLAIM_WAIT_MS, logger });
  const workers = await Promise.all(
    Array.from({ length: env.KDB_WORKER_CONCURRENCY }, () =>
      startEmbedWorker({
        pool,
        spaces,
        redis: target,
        prefix,
        logger,
        lingerMs: env.KDB_BATCH_LINGER_MS,
        lockMs: env.KDB_JOB_LOCK_MS,
        runs,
        cancelWatcher,
        cacheStats,
        runWriteChunk: env.KDB_RUN_WRITE_CHUNK,
        claims,
        onBatch: observeBatch(metrics),
        maxBatchIds: env.KDB_BATCH_MAX_IDS ?? provider.limits.maxInputs,
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
          // Delayed jobs (retries after a provider error) are no ingest under way.
          busy: () => queueIsBusy(embedQueue, ['waiting', 'prioritized', 'active']),
          mergeFactor: env.KDB_SEGMENT_MERGE_FACTOR,
          idleMs: env.KDB_SEGMENT_IDLE,
          buildMemory: env.KDB_SEGMENT_BUILD_MEMORY,
          hnswM: env.KDB_HNSW_M,
          hnswEfConstruction: env.KDB_HNSW_EF_CONSTRUCTION,
          onBuild: (work, ms) => metrics.segmentBuilds.labels(work.kind).observe(ms / 1000),
        }).start()
      : null;
  // Every worker checks the builds; the switch transaction makes the second one a no-op.
  const lastCatchUp = new Map<string, number>();
  let checking = false;
  const builds = setInterval(() => {
    if (checking) return;
    checking = true;
    completeBuilds({ pool, runs, spaces, embedQueue, logger, jobSize: provider.limits.maxInputs }, lastCatchUp)
      .catch((err: unknown) => logger.warn({ err }, 'embedding space build check failed; trying again'))
      .finally(() => (checking = false));
  }, DEFAULTS.spaceBuildCheckMs);
  const probes = await startProbeServer({ port: env.KDB_METRICS_PORT, metrics, readiness: () => checkReadiness(pool, redis, { spaces: () => spaces.problems() }) });
  logger.info({ url: probes.url }, 'metrics and probes listening');
  return {
    probesUrl: probes.url,
    logger,
    async close() {
      clearInterval(builds);
      await Promise.all([...workers.map((w) => w.close()), planner.close(), maintenance.close(), segments?.close()]);
      await embedQueue.close();
      await cancelWatcher.close();
      await probes.close();
      await redis.quit().catch(() => undefined);
      await pool.end();
    },
  };
}
