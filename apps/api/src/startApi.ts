import { Queue } from 'bullmq';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CacheStats,
  createEmbedQueue,
  createReindexQueue,
  ReindexRunStore,
  SearchEngine,
  PipelineMetrics,
  MAINTENANCE_QUEUE,
  createLogger,
  createPool,
  createProvider,
  createRedis,
  migrate,
  providerConfigFromEnv,
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
  const provider = createProvider(providerConfigFromEnv(env));
  // Search embeds queries with the same model as the workers.
  await provider.init?.();
  await migrate({ connectionString: env.KDB_DATABASE_URL, dimensions: provider.dimensions });
  const pool = createPool({
    connectionString: env.KDB_DATABASE_URL,
    applicationName: 'kameleondb-api',
    max: env.KDB_PG_POOL_SIZE,
    sessionSql: SearchEngine.sessionSql(env.KDB_EF_SEARCH),
  });
  const redis = createRedis(env.KDB_REDIS_URL);
  const queue = createEmbedQueue({ redisUrl: env.KDB_REDIS_URL, prefix: env.KDB_QUEUE_PREFIX, connection: redis });
  const reindexQueue = createReindexQueue({ redisUrl: env.KDB_REDIS_URL, prefix: env.KDB_QUEUE_PREFIX, connection: redis });
  const runs = new ReindexRunStore(redis, pool, env.KDB_QUEUE_PREFIX);
  const maintenanceQueue = new Queue(MAINTENANCE_QUEUE, { connection: redis, prefix: env.KDB_QUEUE_PREFIX });
  const search = new SearchEngine({ pool, provider, efSearch: env.KDB_EF_SEARCH });
  const metrics = new PipelineMetrics({ process: 'api', queues: [queue, reindexQueue], activeRuns: () => runs.active() });
  const app = createApp({
    metrics,
    dashboardQueues: [queue, reindexQueue, maintenanceQueue],
    dashboardReadOnly: env.KDB_DASHBOARD_READ_ONLY,
    runs,
    reindexQueue,
    cacheStats: new CacheStats(redis, env.KDB_QUEUE_PREFIX),
    search,
    pricePerMillionTokens: env.KDB_PRICE_PER_MILLION_TOKENS,
    pool,
    redis,
    queue,
    provider,
    logger,
    apiKey: env.KDB_AUTH === 'disabled' ? null : env.KDB_API_KEY!,
    maxBody: env.KDB_MAX_BODY,
    jobSize: env.KDB_JOB_SIZE,
    waitTimeoutMs: env.KDB_WAIT_TIMEOUT_MS,
  });
  if (env.KDB_AUTH === 'disabled') logger.warn('authentication is DISABLED (KDB_AUTH=disabled): every client may read and write');
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(env.KDB_PORT, () => resolve(s));
  });
  // Long ingests with ?wait=true can take minutes.
  server.requestTimeout = 0;
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  logger.info({ url, provider: provider.modelKey }, 'api listening');
  return {
    url,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), env.KDB_SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await queue.close();
      await reindexQueue.close();
      await maintenanceQueue.close();
      await redis.quit().catch(() => undefined);
      await search.flushQueryVectors();
      await pool.end();
    },
  };
}
