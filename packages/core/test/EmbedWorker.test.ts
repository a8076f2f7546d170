import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEntity,
  enqueueEmbed,
  HashProvider,
  startEmbedWorker,
  type EmbedJobData,
  type Entity,
} from '@kameleondb/core';
import type { Queue } from 'bullmq';
import { ingestTestRecords } from '../../../test-support/ingestTestRecords.js';
import { createTestDatabase, readVectors, type TestDatabase } from '../../../test-support/testDatabase.js';
import { createTestEmbedQueue } from '../../../test-support/testEmbedQueue.js';
import { redisUrl } from '../../../test-support/urls.js';
import { until } from '../../../test-support/http.js';

class CountingProvider extends HashProvider {
  calls: number[] = [];
  override async embed(texts: readonly string[]) {
    this.calls.push(texts.length);
    return super.embed(texts);
  }
}


describe('startEmbedWorker', () => {
  let db: TestDatabase;
  let entity: Entity;
  let prefix: string;
  let queue: Queue<EmbedJobData>;
  let closeQueue: () => Promise<void>;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase();
    entity = await createEntity(db.pool, { name: 'msgs', fields: { text: 'text' }, embedFields: ['text'] });
    ({ queue, prefix, close: closeQueue } = createTestEmbedQueue());
  });
  afterAll(async () => {
    await closeQueue();
    await db.close();
  });

  it('coalesces many small jobs into provider-sized batches and completes them after the write', async () => {
    const ids = await ingestTestRecords(db.pool, entity, Array.from({ length: 300 }, (_, i) => ({ text: `message number ${i}` })));
    // 300 single-record jobs, as 300 separate inserts would make.
    await enqueueEmbed(queue, ids, { chunkSize: 1 });
    const provider = new CountingProvider({ maxInputs: 128 });
    const worker = await startEmbedWorker({ pool: db.pool, provider, redis: redisUrl(), prefix, logger, lingerMs: 200 });
    try {
      await until(async () => (await queue.getJobCounts('completed')).completed === 300, 30_000);
      expect(provider.calls).toEqual([128, 128, 44]);
      expect(worker.totals).toMatchObject({ batches: 3, jobs: 300, written: 300 });
      const rows = await readVectors(db.pool, ids);
      expect([...rows.values()].every((r) => r.status === 'ready')).toBe(true);
      expect(await queue.getJobCounts('active', 'waiting', 'failed')).toEqual({ active: 0, waiting: 0, failed: 0 });
    } finally {
      await worker.close();
    }
  });

  it('stops taking jobs on close and leaves the rest waiting', async () => {
    const provider = new CountingProvider({ maxInputs: 10 });
    const worker = await startEmbedWorker({ pool: db.pool, provider, redis: redisUrl(), prefix, logger });
    await worker.close();
    const ids = await ingestTestRecords(db.pool, entity, [{ text: 'after close' }]);
    await enqueueEmbed(queue, ids, { chunkSize: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(provider.calls).toEqual([]);
    expect((await queue.getJobCounts('waiting')).waiting).toBe(1);
  });
});
