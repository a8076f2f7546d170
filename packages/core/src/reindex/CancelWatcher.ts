import { createRedis, type RedisTarget } from '../redis/createRedis.js';

export interface CancelWatcher {
  /** Runs whose cancellation was announced since start. */
  readonly cancelled: ReadonlySet<string>;
  /** Calls `fn(runId)` on each announcement; returns an unsubscribe function. */
  onCancel(fn: (runId: string) => void): () => void;
  close(): Promise<void>;
}

/**
 * Listens on the cancel channel (one subscriber connection per process) so
 * that an in-flight provider request of a cancelled run is aborted at once.
 * The flag in the run hash stays the source of truth: workers also check it
 * before every write, so a missed message only costs the abort.
 */
export async function startCancelWatcher(redis: RedisTarget, channel: string): Promise<CancelWatcher> {
  // Classic pub/sub: a Cluster delivers a PUBLISH on any node to subscribers on every node, and ioredis subscribes again after a failover.
  const sub = createRedis(redis);
  const cancelled = new Set<string>();
  const listeners = new Set<(runId: string) => void>();
  sub.on('message', (_ch: string, runId: string) => {
    cancelled.add(runId);
    for (const fn of listeners) fn(runId);
  });
  sub.on('error', () => undefined);
  await sub.subscribe(channel);
  return {
    cancelled,
    onCancel(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async close() {
      await sub.quit().catch(() => sub.disconnect());
    },
  };
}
