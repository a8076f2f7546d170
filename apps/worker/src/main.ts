import { createLogger, isConnectionLoss } from '@kameleondb/core';
import { readEnv } from './env.js';
import { startWorker } from './startWorker.js';

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
  const worker = await startWorker(env, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: env.KDB_SHUTDOWN_GRACE_MS }, 'stopping: no new jobs, finishing the batch in hand');
    setTimeout(() => {
      logger.error('grace period over with a batch still running: exiting; its jobs return to the queue after their lock expires');
      process.exit(1);
    }, env.KDB_SHUTDOWN_GRACE_MS).unref();
    worker.close().then(
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
