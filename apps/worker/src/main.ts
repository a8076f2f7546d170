import { createLogger, createPool, createProvider, migrate, providerConfigFromEnv, startEmbedWorker } from '@kameleondb/core';
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

try {
  const provider = createProvider(providerConfigFromEnv(env));
  await migrate({ connectionString: env.KDB_DATABASE_URL, dimensions: provider.dimensions });
  const pool = createPool({ connectionString: env.KDB_DATABASE_URL, applicationName: 'kameleondb-worker', max: env.KDB_WORKER_CONCURRENCY * 2 + 2 });
  const workers = await Promise.all(
    Array.from({ length: env.KDB_WORKER_CONCURRENCY }, () =>
      startEmbedWorker({
        pool,
        provider,
        redisUrl: env.KDB_REDIS_URL,
        prefix: env.KDB_QUEUE_PREFIX,
        logger,
        lingerMs: env.KDB_BATCH_LINGER_MS,
        lockMs: env.KDB_JOB_LOCK_MS,
        ...(env.KDB_BATCH_MAX_IDS ? { maxBatchIds: env.KDB_BATCH_MAX_IDS } : {}),
      }),
    ),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: no new jobs, finishing the batch in hand');
    Promise.all(workers.map((w) => w.close()))
      .then(() => pool.end())
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
