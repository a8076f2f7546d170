import type { Server } from 'node:http';
import { answerClientError } from './answerClientError.js';
import type { AddressInfo } from 'node:net';
import {
  createPipeline,
  SearchEngine,
  PipelineMetrics,
  createLogger,
  createPool,
  createProvider,
  createRedis,
  redisTargetOf,
  migrate,
  replicaName,
  providerConfigForSpace,
  providerConfigFromEnv,
  spaceSeedOf,
  SpaceProviders,
  PostingsRebuilder,
} from '@kameleondb/core';
import { createApp } from './createApp.js';
import type { ApiEnv } from './env.js';

export interface RunningApi {
  url: string;
  server: Server;
  /** Stops accepting connections, lets in-flight requests finish (up to the grace period), closes pools. */
  close(): Promise<void>;
}

export async function startApi(env: ApiEnv): Promise<RunningApi> {
  const logger = createLogger('kameleondb-api', env.KDB_LOG_LEVEL);
  // The configured provider seeds the first space of a new database; afterwards search embeds
  // queries with the active space's provider, built from its row and this environment's secrets.
  const provider = createProvider(providerConfigFromEnv(env));
  const migrated = await migrate({ connectionString: env.KDB_DATABASE_URL, space: spaceSeedOf(provider, env.OPENAI_BASE_URL) });
  if (migrated.configured) {
    logger.warn(
      { active: migrated.active?.modelKey, configured: migrated.configured },
      'KDB_EMBEDDING_* name another model than the active embedding space: serving the active space. To migrate to the configured one: POST /v1/spaces {provider, model, dimensions} (kameleondb embeddings migrate)',
    );
  }
  const pool = createPool({
    connectionString: env.KDB_DATABASE_URL,
    applicationName: 'kameleondb-api',
    max: env.KDB_PG_POOL_SIZE,
    sessionSql: SearchEngine.sessionSql(env.KDB_EF_SEARCH),
  });
  // Search replicas: their sessions get the search settings too; a replica that does not
  // answer within 2 s fails that connection attempt, and the search goes to the primary.
  const replicas = (env.KDB_SEARCH_DATABASE_URL ?? []).map((url) => ({
    name: replicaName(url),
    pool: createPool({ connectionString: url, applicationName: 'kameleondb-api-search', max: env.KDB_PG_POOL_SIZE, sessionSql: SearchEngine.sessionSql(env.KDB_EF_SEARCH), connectionTimeoutMillis: 2000 }),
  }));
  const redis = createRedis(redisTargetOf(env));
  const spaces = new SpaceProviders({
    pool,
    build: (space) => (space.modelKey === provider.modelKey ? provider : createProvider(providerConfigForSpace(env, space))),
  });
  // The active space's provider is loaded before the first search (a local model), and fails the start if it cannot be.
  await spaces.active();
  // Every API process drives the analyzer rebuilds it can take: a run whose process died is resumed by another (or this one after a restart).
  const rebuilder = new PostingsRebuilder({ pool, logger, batchSize: env.KDB_ANALYZER_BATCH });
  const pipeline = createPipeline({
    pool,
    redis,
    provider,
    spaces,
    prefix: env.KDB_QUEUE_PREFIX,
    jobSize: env.KDB_JOB_SIZE,
    ingestCachedVectors: env.KDB_INGEST_CACHED_VECTORS === 'on',
    blocksMinDocs: env.KDB_POSTINGS_BLOCKS_MIN_RECORDS,
    maxRecordsPerRequest: env.KDB_MAX_RECORDS_PER_REQUEST,
    efSearch: env.KDB_EF_SEARCH,
    pricePerMillionTokens: env.KDB_PRICE_PER_MILLION_TOKENS,
    // Events and observations arrive only once searches run, after `metrics` below exists.
    resultCache: env.KDB_RESULT_CACHE_ENTRIES > 0 ? { maxEntries: env.KDB_RESULT_CACHE_ENTRIES, maxBytes: env.KDB_RESULT_CACHE_BYTES, onEvent: (e) => metrics.resultCacheEvent(e) } : undefined,
    observeSearch: (o) => metrics.observeSearch(o),
    onAnalyzerRun: () => rebuilder.kick(),
    replicas,
    replicaWaitMs: env.KDB_REPLICA_WAIT_MS,
    replicaMaxLagSeconds: env.KDB_REPLICA_MAX_LAG,
  });
  rebuilder.start();
  const metrics = new PipelineMetrics({
    process: 'api',
    queues: [pipeline.queues.embed, pipeline.queues.reindex],
    activeRuns: () => pipeline.reindex.active(),
    resultCacheSize: () => pipeline.search.metrics().resultCache,
    ...(replicas.length ? { replicas: () => pipeline.replicas() } : {}),
  });
  const app = createApp({
    pipeline,
    metrics,
    dashboardReadOnly: env.KDB_DASHBOARD_READ_ONLY,
    logger,
    apiKey: env.KDB_AUTH === 'disabled' ? null : env.KDB_API_KEY!,
    maxBody: env.KDB_MAX_BODY,
    waitTimeoutMs: env.KDB_WAIT_TIMEOUT_MS,
  });
  if (env.KDB_AUTH === 'disabled') logger.warn('authentication is DISABLED (KDB_AUTH=disabled): every client may read and write');
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(env.KDB_PORT, () => resolve(s));
  });
  // Long ingests with ?wait=true can take minutes.
  server.requestTimeout = 0;
  // Requests Node's parser refuses (headers past maxHeaderSize) get our JSON error, not a bare status.
  server.on('clientError', answerClientError);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  logger.info({ url, space: migrated.active?.modelKey ?? null, searchReplicas: replicas.map((r) => r.name) }, 'api listening');
  return {
    url,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), env.KDB_SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await rebuilder.close();
      await pipeline.close();
      await redis.quit().catch(() => undefined);
      await pool.end();
      await Promise.all(replicas.map((r) => r.pool.end()));
    },
  };
}
