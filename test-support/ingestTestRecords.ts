import type pg from 'pg';
import { fromJsonBody, ingestRecords, type Entity } from '@kameleondb/core';
import { createTestEmbedQueue } from './testEmbedQueue.js';

/**
 * Writes records the way the API does (ingestRecords: one transaction,
 * postings included) and returns their ids in order. Their embed jobs go to
 * a queue of their own that nothing consumes and that is removed at once, so
 * the rows stay pending until the test enqueues or embeds them itself: even
 * rows whose text the embedding cache holds (the API's ingest would write
 * those ready, ingestRecords' `cachedVectors`; ingestCachedVectors.e2e tests
 * that path).
 */
export async function ingestTestRecords(
  pool: pg.Pool,
  entity: Entity,
  records: readonly Record<string, unknown>[],
  /** blocksMinDocs: a chunk of at least this many records has its postings written as blocks (ingestRecords' default otherwise). */
  opts: { blocksMinDocs?: number } = {},
): Promise<string[]> {
  const sink = createTestEmbedQueue();
  try {
    const result = await ingestRecords({ pool, queue: sink.queue, entity, records: fromJsonBody(records), cachedVectors: false, ...opts });
    if (result.enqueueError !== undefined) throw new Error(`test ingest could not enqueue its jobs: ${result.enqueueError}`);
    return result.ids.toArray();
  } finally {
    await sink.close();
  }
}
