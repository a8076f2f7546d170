import { z } from 'zod';
import { parseEnv, pipelineEnvShape } from '@kameleondb/core';

const schema = z.object({
  ...pipelineEnvShape,
  /** Embed loops in this process (each holds one batch at a time). */
  KDB_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Most record ids coalesced into one batch; capped by the provider's inputs per request. */
  KDB_BATCH_MAX_IDS: z.coerce.number().int().min(1).max(100_000).optional(),
  /** Time to wait for more jobs once one is in hand, in ms. */
  KDB_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(10_000).default(25),
  /** Job lock, renewed while a batch runs; a dead worker's jobs return to the queue after it. */
  KDB_JOB_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
});

export type WorkerEnv = z.infer<typeof schema>;

export function readEnv(env: Record<string, string | undefined> = process.env): WorkerEnv {
  return parseEnv(schema, env);
}
