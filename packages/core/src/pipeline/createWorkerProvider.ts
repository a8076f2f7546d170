import type { RedisClient } from '../redis/createRedis.js';
import type { Logger } from 'pino';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { instrumentProvider } from '../embedding/instrumentProvider.js';
import { withRequestBudget } from '../embedding/withRequestBudget.js';
import { withSharedBackoff } from '../embedding/withSharedBackoff.js';
import type { PipelineMetrics } from '../metrics/PipelineMetrics.js';

export interface WorkerProviderOptions {
  redis: RedisClient;
  /** BullMQ key prefix; the budget and pause keys share its hash tag. */
  prefix: string;
  metrics: PipelineMetrics;
  logger: Logger;
  /** Provider requests per minute shared by all workers; 0 (the default): no budget. */
  requestsPerMinute?: number;
  /** Provider tokens per minute shared by all workers; 0 (the default): no budget. */
  tokensPerMinute?: number;
}

/**
 * The provider as embed workers call it. Innermost the metrics, so they time
 * each request to the provider and not the waits; then the shared budget;
 * outermost the shared backoff, so a worker paused by a 429 waits before it
 * takes from the budget, and each retry takes from it again.
 */
export function createWorkerProvider(base: EmbeddingProvider, o: WorkerProviderOptions): EmbeddingProvider {
  const budgeted = withRequestBudget(instrumentProvider(base, o.metrics), {
    redis: o.redis,
    key: `${o.prefix}:provider-budget:${base.modelKey}`,
    requestsPerWindow: o.requestsPerMinute ?? 0,
    tokensPerWindow: o.tokensPerMinute ?? 0,
    onWait: (ms) => o.logger.debug({ ms }, 'provider budget spent: waiting for the next minute'),
  });
  return withSharedBackoff(budgeted, {
    redis: o.redis,
    key: `${o.prefix}:provider-pause:${base.modelKey}`,
    onPause: (ms) => o.logger.info({ ms }, 'provider rate limit: pausing (shared by all workers)'),
  });
}
