import { startApiProcess, startTogether, startWorkerProcess, stopAll, type ChildApp } from './processes.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakeOpenAI.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';
import { obliterateQueues, testPrefix } from './queuePrefix.js';
import { jsonClient } from './http.js';
import { redisUrl } from './urls.js';
import { startRedisCluster, type RedisClusterHandle } from './redisCluster.js';
import type { RedisTarget } from '@kameleondb/core';

let defaultRedis: 'single' | 'cluster' = 'single';

/**
 * Makes every pipeline this test file starts run on a 6-node Redis Cluster
 * of its own: a file that calls it and then imports another test file runs
 * that file's tests on the cluster (its `*.cluster.e2e.test.ts` variant).
 */
export function runOnRedisCluster(): void {
  defaultRedis = 'cluster';
}

export interface Pipeline {
  db: TestDatabase;
  prefix: string;
  /** The local OpenAI wire-format server, when `openai` was asked for. */
  fake: FakeOpenAI | undefined;
  /** The environment every process got. */
  env: Record<string, string>;
  /** The Redis the processes use (createRedis(p.redis) for a client of it). */
  redis: RedisTarget;
  /** The Redis Cluster of this pipeline, when it runs on one. */
  cluster: RedisClusterHandle | undefined;
  api: ChildApp & { url: string };
  workers: (ChildApp & { probesUrl: string })[];
  /** JSON client of the API (with the API key when one is set). */
  call: ReturnType<typeof jsonClient>;
  /** Stops the processes, the fake server, and removes the queues and the database. */
  close(): Promise<void>;
}

/**
 * A fresh database and queue prefix, an API process and `workers` worker
 * processes; with `openai`, the openai provider (384 dims) against a local
 * wire-format server.
 */
export async function startPipeline(opts: {
  workers?: number;
  openai?: { delayMs?: number } | boolean;
  env?: Record<string, string>;
  /** The API's own variables; a function of the database when they name it (a replica's URL). */
  apiEnv?: Record<string, string> | ((db: TestDatabase) => Promise<Record<string, string>>);
  /** `cluster`: a 6-node Redis Cluster of its own (startRedisCluster). Default: the shared Redis, or the cluster after runOnRedisCluster(). */
  redis?: 'single' | 'cluster';
  /** URL of the PostgreSQL server (any database) the test database goes on, such as a throwaway cluster's. Default: the tests' server. */
  postgres?: string;
}): Promise<Pipeline> {
  const cluster = (opts.redis ?? defaultRedis) === 'cluster' ? await startRedisCluster() : undefined;
  // Six servers outlive the test process, and the database would outlive the file: both go when the pipeline does not come up.
  let opened: TestDatabase | undefined;
  let fake: FakeOpenAI | undefined;
  try {
    const db = (opened = await createTestDatabase({ serverUrl: opts.postgres }));
    const prefix = testPrefix();
    fake = opts.openai ? await startFakeOpenAI(typeof opts.openai === 'object' ? opts.openai : {}) : undefined;
    const env: Record<string, string> = {
      KDB_DATABASE_URL: db.url,
      ...(cluster ? cluster.env : { KDB_REDIS_URL: redisUrl() }),
      KDB_QUEUE_PREFIX: prefix,
      ...(fake
        ? { KDB_EMBEDDING_PROVIDER: 'openai', KDB_EMBEDDING_DIMENSIONS: '384', OPENAI_API_KEY: 'sk-local-test', OPENAI_BASE_URL: fake.url }
        : {}),
      ...opts.env,
    };
    if (!env.KDB_API_KEY) env.KDB_AUTH = 'disabled';
    const apiEnv = typeof opts.apiEnv === 'function' ? await opts.apiEnv(db) : opts.apiEnv;
    // Side by side, as docker-compose and stack-local.sh start them: each migrates under the advisory lock.
    const [api, ...workers] = await startTogether(
      () => startApiProcess({ ...env, ...apiEnv }),
      ...Array.from({ length: opts.workers ?? 0 }, () => () => startWorkerProcess(env)),
    );
    return {
      db,
      prefix,
      fake,
      env,
      redis: cluster?.target ?? redisUrl(),
      cluster,
      api,
      workers,
      call: jsonClient(api.url, env.KDB_API_KEY),
      async close() {
        await stopAll([api, ...workers]);
        await fake?.close();
        // The cluster is this pipeline's own: stopping it removes every key.
        if (cluster) await cluster.stop();
        else await obliterateQueues(prefix);
        await db.close();
      },
    };
  } catch (err) {
    await fake?.close().catch(() => undefined);
    await opened?.close().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    throw err;
  }
}
