import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

export const REDIS_MODES = ['single', 'cluster'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

/**
 * Where Redis is: one server's URL, or a mode with its URLs (for `cluster`,
 * one or more seed nodes; the client discovers the others).
 */
export type RedisTarget = string | { mode: RedisMode; urls: readonly string[] };

/** A connection of either mode; both speak the same commands. */
export type RedisClient = Redis | Cluster;

/**
 * BullMQ's requirements (no per-request retry limit: a command waits for a
 * reconnect or a failover instead of failing the job loop).
 */
const CONNECTION: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };

/** The one place that turns a target into a connection: the queues, workers, run store, pub/sub and budgets all come from here. */
export function createRedis(target: RedisTarget): RedisClient {
  const { mode, urls } = typeof target === 'string' ? { mode: 'single' as const, urls: [target] } : target;
  if (urls.length === 0) throw new Error('createRedis: no Redis URL given');
  if (mode === 'single') {
    if (urls.length > 1) throw new Error(`createRedis: mode single takes one URL, got ${urls.length} (use mode cluster for seed nodes)`);
    return new Redis(urls[0]!, CONNECTION);
  }
  const nodes: ClusterNode[] = [];
  let auth: Pick<RedisOptions, 'username' | 'password' | 'tls'> = {};
  for (const raw of urls) {
    const u = new URL(raw);
    nodes.push({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 6379 });
    // Every node of a cluster takes the same credentials; the first URL carrying them says which.
    if (!auth.password && u.password) auth = { ...(u.username ? { username: decodeURIComponent(u.username) } : {}), password: decodeURIComponent(u.password) };
    if (u.protocol === 'rediss:') auth.tls = {};
  }
  return new Cluster(nodes, {
    redisOptions: { ...CONNECTION, ...auth },
    enableReadyCheck: true,
    // Commands issued while the cluster has no master for a slot (a failover) wait for the new master, as BullMQ expects.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
  });
}

