import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { createRedis, type RedisClient, type RedisTarget } from '@kameleondb/core';
import { track } from './leaks.js';

const run = promisify(execFile);
export const REDIS_CLUSTER_SCRIPT = fileURLToPath(new URL('../scripts/redis-cluster.sh', import.meta.url));
/** The tests' port range: 16 clusters of 6 nodes from 7100. */
const FIRST_PORT = 7100;
const CLUSTERS = 16;

export interface RedisClusterHandle {
  /** First of its six ports. */
  base: number;
  /** The environment scripts/redis-cluster.sh ran with (its KDB_REDIS_CLUSTER_DIR). */
  scriptEnv: NodeJS.ProcessEnv;
  /** The seed URLs (every node). */
  urls: string[];
  target: RedisTarget;
  /** KDB_REDIS_MODE and KDB_REDIS_URL for a process of the pipeline. */
  env: { KDB_REDIS_MODE: 'cluster'; KDB_REDIS_URL: string };
  /** A new client of the cluster (the caller quits it). */
  client(): RedisClient;
  /** A plain connection to one node, for CLUSTER commands. */
  node(port: number): Redis;
  /** Stops the six servers and removes their folder (scripts/redis-cluster.sh stop); safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * A 6-node Redis Cluster of this test's own, started by scripts/redis-cluster.sh
 * in a folder of this process, on the first free block of six ports from
 * 7100 (the block is derived from the process id and `slot`; a block in use
 * by another run answers Redis and is skipped, never touched).
 */
export async function startRedisCluster(slot = 0): Promise<RedisClusterHandle> {
  const dir = join(tmpdir(), `kdb-redis-cluster-${process.pid}-${slot}`);
  const env = { ...process.env, KDB_REDIS_CLUSTER_DIR: dir };
  let base = 0;
  let urls: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < CLUSTERS && !base; i++) {
    const b = FIRST_PORT + 6 * ((process.pid + slot + i) % CLUSTERS);
    try {
      const { stdout } = await run('bash', [REDIS_CLUSTER_SCRIPT, 'start', String(b)], { env, timeout: 60_000 });
      urls = stdout.trim().split('\n').pop()!.split(',');
      base = b;
    } catch (err) {
      errors.push(`${b}: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
    }
  }
  if (!base) throw new Error(`no Redis Cluster could be started on ports ${FIRST_PORT}-${FIRST_PORT + 6 * CLUSTERS - 1}:\n${errors.join('\n')}`);
  let running = true;
  track(`redis cluster on ports ${base}-${base + 5}`, () => running);
  const target: RedisTarget = { mode: 'cluster', urls };
  return {
    base,
    scriptEnv: env,
    urls,
    target,
    env: { KDB_REDIS_MODE: 'cluster', KDB_REDIS_URL: urls.join(',') },
    client: () => createRedis(target),
    node: (port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }),
    async stop() {
      if (!running) return;
      await run('bash', [REDIS_CLUSTER_SCRIPT, 'stop', String(base)], { env, timeout: 60_000 });
      await rm(`${dir}-${base}`, { recursive: true, force: true });
      running = false;
    },
  };
}

/** Every key matching `pattern`: on a Cluster, from each master (a KEYS sent to one node sees only its slots). */
export async function keysMatching(client: RedisClient, pattern: string): Promise<string[]> {
  // A new Cluster client knows its nodes only once it has read the slots.
  if (client instanceof Cluster && client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  return (await Promise.all(nodes.map((n) => n.keys(pattern)))).flat();
}

/**
 * What a cluster variant of a test file checks after the file's tests: the
 * pipeline really ran on its cluster (the queue's keys are there) and every
 * key under the prefix hashes to one slot (the `{…}` hash tag at work).
 */
export async function queueKeysOnCluster(p: { cluster: RedisClusterHandle | undefined; prefix: string }): Promise<{ keys: number; slots: number[] }> {
  if (!p.cluster) throw new Error('the pipeline did not run on a Redis Cluster');
  const client = p.cluster.client();
  try {
    const keys = await keysMatching(client, `${p.prefix}:*`);
    const slots = new Set<number>();
    for (const k of keys) slots.add(Number(await client.cluster('KEYSLOT', k)));
    return { keys: keys.length, slots: [...slots] };
  } finally {
    await client.quit();
  }
}
