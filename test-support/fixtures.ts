/**
 * The tests' vitest fixtures (`test.extend`): a database, a queue prefix, an
 * embed queue and an in-process API, each made once per file the first time
 * a test or a suite hook asks for it, and closed after the file. Queue
 * handles (`queues`) read the jobs under the file's prefix. A file that
 * needs the API with other settings overrides `apiEnv` at its top:
 * `test.override('apiEnv', { KDB_API_KEY: KEY })`. The `pipeline` fixture is
 * the same for processes: an API process and workers (`pipelineOptions`).
 */
import { Queue } from 'bullmq';
import { test as base } from 'vitest';
import { createRedis, EMBED_QUEUE, MAINTENANCE_QUEUE, REINDEX_QUEUE, type EmbedJobData } from '@kameleondb/core';
import { readEnv } from '../apps/api/src/env.js';
import { startApi, type RunningApi } from '../apps/api/src/startApi.js';
import { jsonClient } from './http.js';
import { openedByFixture } from './leaks.js';
import { startPipeline, type Pipeline } from './startPipeline.js';
import { obliterateQueues, testPrefix } from './queuePrefix.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';
import { createTestEmbedQueue } from './testEmbedQueue.js';
import { redisUrl } from './urls.js';

export const test = base
  /** Environment of the `api` fixture on top of the database, Redis, prefix, port 0, silent log and hash provider; default: auth disabled. */
  .extend('apiEnv', { scope: 'file' }, {} as Record<string, string>)
  /** A fresh database cloned from the migrated template (createTestDatabase). */
  .extend('db', { scope: 'file' }, async ({}, { onCleanup }): Promise<TestDatabase> => {
    const db = await openedByFixture(createTestDatabase);
    onCleanup(() => db.close());
    return db;
  })
  /** A BullMQ prefix of the file's own; its keys are removed after the file. */
  .extend('prefix', { scope: 'file' }, async ({}, { onCleanup }): Promise<string> => {
    const prefix = testPrefix();
    onCleanup(async () => {
      await obliterateQueues(prefix);
    });
    return prefix;
  })
  /** An embed queue under a prefix of its own (createTestEmbedQueue). */
  .extend('embedQueue', { scope: 'file' }, async ({}, { onCleanup }): Promise<{ queue: Queue<EmbedJobData>; prefix: string }> => {
    const q = await openedByFixture(async () => createTestEmbedQueue());
    onCleanup(() => q.close());
    return { queue: q.queue, prefix: q.prefix };
  })
  /** Handles on the embed, reindex and maintenance queues under `prefix` (one Redis connection), to count and read jobs. */
  .extend('queues', { scope: 'file' }, async ({ prefix }, { onCleanup }): Promise<{ embed: Queue; reindex: Queue; maintenance: Queue }> => {
    const redis = createRedis(redisUrl());
    const queues = { embed: new Queue(EMBED_QUEUE, { connection: redis, prefix }), reindex: new Queue(REINDEX_QUEUE, { connection: redis, prefix }), maintenance: new Queue(MAINTENANCE_QUEUE, { connection: redis, prefix }) };
    // BullMQ leaves a connection it was given open: it is ours to quit.
    onCleanup(async () => {
      for (const q of Object.values(queues)) await q.close();
      await redis.quit();
    });
    return queues;
  })
  /** The API in this process (startApi) on `db` and `prefix`, listening on a free port. */
  .extend('api', { scope: 'file' }, async ({ db, prefix, apiEnv }, { onCleanup }): Promise<RunningApi> => {
    const api = await openedByFixture(() =>
      startApi(
        readEnv({
          KDB_DATABASE_URL: db.url,
          KDB_REDIS_URL: redisUrl(),
          KDB_QUEUE_PREFIX: prefix,
          KDB_PORT: '0',
          KDB_LOG_LEVEL: 'silent',
          KDB_EMBEDDING_PROVIDER: 'hash',
          ...(apiEnv.KDB_API_KEY ? {} : { KDB_AUTH: 'disabled' }),
          ...apiEnv,
        }),
      ),
    );
    onCleanup(() => api.close());
    return api;
  })
  /** Options of the `pipeline` fixture (startPipeline's); default: no worker, the hash provider. */
  .extend('pipelineOptions', { scope: 'file' }, {} as Parameters<typeof startPipeline>[0])
  /** An API process and worker processes on a database and prefix of their own (startPipeline). */
  .extend('pipeline', { scope: 'file' }, async ({ pipelineOptions }, { onCleanup }): Promise<Pipeline> => {
    const p = await openedByFixture(() => startPipeline(pipelineOptions));
    onCleanup(() => p.close());
    return p;
  })
  /** The JSON client of `api`, with its API key when `apiEnv` sets one. */
  .extend('call', { scope: 'file' }, ({ api, apiEnv }) => jsonClient(api.url, apiEnv.KDB_API_KEY));
