import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEntity,
  createRedis,
  createReindexQueue,
  enqueueEmbed,
  HashProvider,
  MAINTENANCE_QUEUE,
  ReindexRunStore,
  startEmbedWorker,
  startReindex,
  type EmbedJobData,
  type Entity,
} from '@kameleondb/core';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';
import { createTestEmbedQueue } from '../../../test-support/testEmbedQueue.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { redisUrl } from '../../../test-support/urls.js';
import { until } from '../../../test-support/http.js';

/** Embed job data no producer of ours writes, each with the reason the worker must give. */
const JUNK_EMBED: [unknown, RegExp][] = [
  [{}, /ids: .*expected array/],
  [{ ids: 'not-an-array' }, /ids: .*expected array/],
  [{ ids: ['not-a-uuid'] }, /ids\.0: ids must be record ids \(UUIDs\)/],
  [{ ids: [randomUUID()], runId: 42 }, /runId: /],
  [{ ids: [randomUUID()], force: 'yes' }, /force: /],
  [{ ids: [randomUUID()], extra: true }, /Unrecognized key: "extra"/],
  [null, /data: /],
];

async function failedWith(queue: Queue, jobId: string): Promise<{ state: string; reason: string; attempts: number }> {
  const job = await queue.getJob(jobId);
  return { state: (await job?.getState()) ?? 'missing', reason: job?.failedReason ?? '', attempts: job?.attemptsMade ?? -1 };
}

describe('malformed jobs', () => {
  let db: TestDatabase;
  let entity: Entity;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'msgs', fields: { text: 'text' }, embedFields: ['text'] });
  });
  afterAll(async () => {
    await db.close();
  });

  const insert = (texts: string[]) => ingestTestRecords(db.pool, entity, texts.map((text) => ({ text })));

  it('fail alone without retries in the embed worker, while the good jobs coalesced with them are embedded', async () => {
    const { queue, prefix, close } = createTestEmbedQueue();
    const worker = await startEmbedWorker({ pool: db.pool, provider: new HashProvider({ maxInputs: 64 }), redis: redisUrl(), prefix, logger, lingerMs: 300 });
    try {
      const ids = await insert(['first good', 'second good', 'third good']);
      // Good and junk jobs interleaved, all waiting before the worker's first take completes its batch.
      await enqueueEmbed(queue, ids.slice(0, 1), { chunkSize: 1 });
      const junk = await queue.addBulk(JUNK_EMBED.map(([data]) => ({ name: 'embed', data: data as EmbedJobData })));
      await enqueueEmbed(queue, ids.slice(1), { chunkSize: 1 });
      await until(async () => (await queue.getJobCounts('completed')).completed === 3, 15_000);
      await until(async () => (await queue.getJobCounts('failed')).failed === JUNK_EMBED.length, 15_000);
      for (const [i, job] of junk.entries()) {
        const f = await failedWith(queue, job.id!);
        expect(f.state, JSON.stringify(JUNK_EMBED[i]![0])).toBe('failed');
        expect(f.reason).toMatch(/^malformed embed job /);
        expect(f.reason).toMatch(JUNK_EMBED[i]![1]);
        expect(f.attempts).toBe(1);
      }
      const rows = await readVectors(db.pool, ids);
      expect([...rows.values()].map((r) => r.status)).toEqual(['ready', 'ready', 'ready']);
      // Still taking jobs.
      const later = await insert(['after the junk']);
      await enqueueEmbed(queue, later, { chunkSize: 1 });
      await until(async () => (await readVectors(db.pool, later)).get(later[0]!)?.status === 'ready', 15_000);
    } finally {
      await worker.close();
      await close();
    }
  });

  describe('in a real worker process', () => {
    let prefix: string;
    let child: ChildApp | undefined;
    let embedQueue: Queue;
    let reindexQueue: Queue;
    let maintenanceQueue: Queue;
    const redis = createRedis(redisUrl());

    beforeAll(async () => {
      prefix = testPrefix();
      const connection = { connection: createRedis(redisUrl()), prefix };
      embedQueue = new Queue('embed', connection);
      reindexQueue = createReindexQueue({ redis: redisUrl(), prefix });
      maintenanceQueue = new Queue(MAINTENANCE_QUEUE, connection);
      child = await startWorkerProcess({ KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_LOG_LEVEL: 'info' });
    });
    afterAll(async () => {
      await stopAll([child]);
      await Promise.all([embedQueue.close(), reindexQueue.close(), maintenanceQueue.close()]);
      await redis.quit();
      await obliterateQueues(prefix);
    });

    it('survives junk embed, planner and maintenance jobs: they fail with a reason, good jobs and a reindex run complete', async () => {
      const ids = await insert(['process good one', 'process good two']);
      const junkEmbed = await embedQueue.addBulk(JUNK_EMBED.map(([data]) => ({ name: 'embed', data })));
      await embedQueue.add('embed', { ids });
      const junkPlan = await Promise.all([reindexQueue.add('plan', { runId: 'x' } as never), reindexQueue.add('plan', {} as never)]);
      const junkMaintenance = await Promise.all([
        maintenanceQueue.add('evil', {}),
        maintenanceQueue.add('sweeper', { payload: 'x'.repeat(10_000) }),
      ]);

      await until(async () => [...(await readVectors(db.pool, ids)).values()].every((r) => r.status === 'ready'), 20_000);
      for (const job of junkEmbed) await until(async () => (await failedWith(embedQueue, job.id!)).state === 'failed', 15_000);
      for (const job of junkPlan) {
        const f = await until(async () => {
          const r = await failedWith(reindexQueue, job.id!);
          return r.state === 'failed' ? r : undefined;
        }, 15_000);
        expect(f.reason).toMatch(/^malformed reindex job .*runId: runId must be a reindex run id/);
        expect(f.attempts).toBe(1);
      }
      const reasons = [];
      for (const job of junkMaintenance) {
        const f = await until(async () => {
          const r = await failedWith(maintenanceQueue, job.id!);
          return r.state === 'failed' ? r : undefined;
        }, 15_000);
        reasons.push(f.reason);
      }
      expect(reasons[0]).toMatch(/^malformed maintenance job .*name: name must be one of sweeper, ingest-key-expiry, cache-eviction/);
      expect(reasons[1]).toMatch(/^malformed maintenance job .*data: Unrecognized key: "payload"/);
      expect(reasons.join('').length).toBeLessThan(2000);
      // The schedulers' own jobs still pass the check.
      const completed = await until(async () => {
        const jobs = await maintenanceQueue.getJobs(['completed']);
        return jobs.length ? jobs : undefined;
      }, 15_000);
      expect(completed.map((j) => j.name)).toContain('ingest-key-expiry');

      // The planner still plans: a forced run over the entity completes.
      const runs = new ReindexRunStore(redis, db.pool, prefix);
      const run = await startReindex({ pool: db.pool, runs, reindexQueue: reindexQueue as never }, { entity: 'msgs', force: true });
      await until(async () => (await runs.get(run.id))?.state === 'completed', 20_000);
      expect(child!.proc.exitCode).toBe(null);
      expect(child!.proc.signalCode).toBe(null);
      expect(child!.output()).toContain('malformed embed job');
    });
  });
});
