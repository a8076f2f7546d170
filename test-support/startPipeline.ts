import { startApiProcess, startWorkerProcess, stopAll, type ChildApp } from './processes.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakeOpenAI.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';
import { obliterateQueues, testPrefix } from './queuePrefix.js';
import { jsonClient } from './http.js';
import { redisUrl } from './urls.js';

export interface Pipeline {
  db: TestDatabase;
  prefix: string;
  /** The local OpenAI wire-format server, when `openai` was asked for. */
  fake: FakeOpenAI | undefined;
  /** The environment every process got. */
  env: Record<string, string>;
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
}): Promise<Pipeline> {
  const db = await createTestDatabase();
  const prefix = testPrefix();
  const fake = opts.openai ? await startFakeOpenAI(typeof opts.openai === 'object' ? opts.openai : {}) : undefined;
  const env: Record<string, string> = {
    KDB_DATABASE_URL: db.url,
    KDB_REDIS_URL: redisUrl(),
    KDB_QUEUE_PREFIX: prefix,
    ...(fake
      ? { KDB_EMBEDDING_PROVIDER: 'openai', KDB_EMBEDDING_DIMENSIONS: '384', OPENAI_API_KEY: 'sk-local-test', OPENAI_BASE_URL: fake.url }
      : {}),
    ...opts.env,
  };
  if (!env.KDB_API_KEY) env.KDB_AUTH = 'disabled';
  const apiEnv = typeof opts.apiEnv === 'function' ? await opts.apiEnv(db) : opts.apiEnv;
  const api = await startApiProcess({ ...env, ...apiEnv });
  const workers = await Promise.all(Array.from({ length: opts.workers ?? 0 }, () => startWorkerProcess(env)));
  return {
    db,
    prefix,
    fake,
    env,
    api,
    workers,
    call: jsonClient(api.url, env.KDB_API_KEY),
    async close() {
      await stopAll([api, ...workers]);
      await fake?.close();
      await obliterateQueues(prefix);
      await db.close();
    },
  };
}
