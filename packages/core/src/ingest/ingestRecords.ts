import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { ValidationError } from '../errors.js';
import type { Entity } from '../entities/entitySchema.js';
import { validateRecord } from '../entities/validateRecord.js';
import { enqueueEmbed, type EmbedJobData } from '../jobs/embedQueue.js';
import { insertRecordChunk } from '../store/recordStore.js';
import { withTransaction } from '../store/withTransaction.js';
import type { SourcedValue } from './readNdjson.js';

export interface IngestOptions {
  pool: pg.Pool;
  queue: Queue<EmbedJobData>;
  entity: Entity;
  records: Iterable<SourcedValue> | AsyncIterable<SourcedValue>;
  /**
   * Rows per INSERT statement. Default 1000: preparing a chunk (JSON, text
   * hashes, tokenizing for the keyword postings) runs on the event loop,
   * ~20 ms per 1000 rows, and searches served by the same process wait for
   * it (5000-row chunks stalled them ~120 ms each).
   */
  chunkSize?: number;
  /** Ids per embed job. Default 2048 (one full provider request). */
  jobSize?: number;
  /** Most records one request may carry. Default 1,000,000. */
  maxRecords?: number;
}

export interface IngestResult {
  ids: string[];
  /** Embed jobs enqueued; 0 with `enqueueError` set when Redis refused them. */
  jobs: number;
  /** Set when the records were committed but enqueueing failed: they stay pending. */
  enqueueError?: string;
}

/**
 * Validates every record first, then writes them all in ONE transaction
 * (chunked statements) and only after the commit enqueues embed jobs.
 * - Bad input anywhere: nothing is written, the error names the record.
 * - Process dies before the commit: nothing is written; the client saw no
 *   answer and may retry.
 * - Process dies (or Redis fails) after the commit: the rows are durable and
 *   `pending`; the sweeper enqueues pending rows that have no job.
 */
export async function ingestRecords(opts: IngestOptions): Promise<IngestResult> {
  const chunkSize = opts.chunkSize ?? 1000;
  const maxRecords = opts.maxRecords ?? 1_000_000;
  const valid: Record<string, unknown>[] = [];
  for await (const { value, where } of opts.records) {
    if (valid.length >= maxRecords) {
      throw new ValidationError(`too many records in one request: the limit is ${maxRecords}`, { limit: maxRecords });
    }
    valid.push(validateRecord(opts.entity, value, where));
    // Let other requests (searches) run between slices of a large body.
    if (valid.length % chunkSize === 0) await yieldToEventLoop();
  }
  if (valid.length === 0) throw new ValidationError('no records in the request body');

  const ids = await withTransaction(opts.pool, async (client) => {
    const out: string[] = [];
    for (let i = 0; i < valid.length; i += chunkSize) {
      out.push(...(await insertRecordChunk(client, opts.entity, valid.slice(i, i + chunkSize))));
    }
    return out;
  });
  try {
    const jobs = await enqueueEmbed(opts.queue, ids, { chunkSize: opts.jobSize ?? 2048 });
    return { ids, jobs };
  } catch (err) {
    return { ids, jobs: 0, enqueueError: (err as Error).message };
  }
}
