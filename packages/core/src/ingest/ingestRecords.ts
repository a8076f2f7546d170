import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { ConflictError, ValidationError } from '../errors.js';
import type { Entity } from '@kameleondb/schemas';
import { DEFAULTS } from '../config/defaults.js';
import { uniqueViolation } from '../entities/uniqueFieldIndex.js';
import { validateRecord } from '../entities/validateRecord.js';
import { enqueueEmbed, type EmbedJobData } from '../jobs/embedQueue.js';
import { lockEntityUnchanged } from '../store/lockEntityUnchanged.js';
import { writeRecordChunk } from '../store/recordStore.js';
import { KeywordIndexWriter, POSTINGS_BATCH_DOCS } from '../store/keywordIndex.js';
import { pendingIds } from '../store/searchRowStore.js';
import { withTransaction } from '../store/withTransaction.js';
import { CpuSlice } from '../util/CpuSlice.js';
import type { SourcedValue } from './readNdjson.js';

export interface IngestOptions {
  pool: pg.Pool;
  queue: Queue<EmbedJobData>;
  /** Model keys of the embedding spaces being built: the new rows are enqueued for each too, at a lower priority. */
  buildingSpaces?: readonly string[];
  entity: Entity;
  records: Iterable<SourcedValue> | AsyncIterable<SourcedValue>;
  /**
   * Rows per INSERT statement. Default 5000: smaller statements made ingests
   * slower (docs/decisions/ingest-chunk-size.md). Preparing a chunk (JSON,
   * text hashes, terms) yields to the event loop every 2 ms of work, so
   * searches served by the same process are not held up for a whole chunk.
   */
  chunkSize?: number;
  /**
   * Documents whose postings are written by one COPY. Default 50,000
   * (POSTINGS_BATCH_DOCS): the statement's trigger updates each term's
   * document frequency once per batch, where per-chunk postings update the
   * common terms once per chunk, each time slower since one transaction
   * keeps every version (docs/decisions/postings-batches.md). Bounds the
   * analyzed text held in memory.
   */
  postingsBatch?: number;
  /** Ids per embed job. Default 2048 (one full provider request). */
  jobSize?: number;
  /** Most records one request may carry. Default MAX_REQUEST_RECORDS. */
  maxRecords?: number;
  /**
   * The client's `Idempotency-Key`: a retry of a committed request with the
   * same key and the same records returns the first answer's ids and writes
   * nothing; the same key with other records is refused (409).
   */
  idempotencyKey?: string | undefined;
}

export interface IngestResult {
  ids: string[];
  /** Embed jobs enqueued; 0 with `enqueueError` set when Redis refused them. */
  jobs: number;
  /** Set when the records were committed but enqueueing failed: they stay pending. */
  enqueueError?: string;
  /** True when an earlier request with this idempotency key had written the records. */
  replayed?: boolean;
}

/** Most records one request may carry by default, in an ingest and in a batch update. */
export const MAX_REQUEST_RECORDS = 1_000_000;

/** Keys are opaque to the server: printable ASCII, 1–200 characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * Validates every record first, then writes them all in ONE transaction
 * (chunked statements; postings by larger batches) and only after the
 * commit enqueues embed jobs.
 * - Bad input anywhere: nothing is written, the error names the record.
 * - Process dies before the commit: nothing is written; the client saw no
 *   answer and may retry.
 * - Process dies (or Redis fails) after the commit: the rows are durable and
 *   `pending`; the sweeper enqueues pending rows that have no job.
 * - With an idempotency key, the key row commits with the records: a retry
 *   after any of the above either writes the records (the first attempt did
 *   not commit) or returns the committed ids (it did), never a second copy;
 *   its still-pending rows are enqueued again. Two requests with one key at
 *   once: the second waits on the first's key row, then replays or writes.
 */
export async function ingestRecords(opts: IngestOptions): Promise<IngestResult> {
  const chunkSize = opts.chunkSize ?? 5000;
  const maxRecords = opts.maxRecords ?? MAX_REQUEST_RECORDS;
  const key = opts.idempotencyKey;
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw new ValidationError(`Idempotency-Key must be 1–200 printable ASCII characters without spaces; got ${JSON.stringify(key.slice(0, 40))}${key.length > 40 ? '…' : ''} (${key.length} characters)`, { header: 'Idempotency-Key' });
  }
  const requestHash = createHash('sha256');
  const valid: Record<string, unknown>[] = [];
  const slice = new CpuSlice();
  for await (const { value, where } of opts.records) {
    if (valid.length >= maxRecords) {
      throw new ValidationError(`too many records in one request: the limit is ${maxRecords}`, { limit: maxRecords });
    }
    const record = validateRecord(opts.entity, value, where);
    if (key !== undefined) requestHash.update(`${JSON.stringify(record)}\n`);
    valid.push(record);
    // Let other requests (searches) run between slices of a large body.
    if (slice.due()) await slice.pause();
  }
  if (valid.length === 0) throw new ValidationError('no records in the request body');

  const hash = key !== undefined ? requestHash.digest('hex') : '';
  const written = await withTransaction(opts.pool, async (client) => {
    // The records were validated against the entity as read before: it must still be that entity.
    await lockEntityUnchanged(client, opts.entity);
    if (key !== undefined) {
      // Waits while another transaction holds this key; then either it is ours or it was committed.
      const claimed = await client.query(
        `INSERT INTO kdb_ingest_keys (entity, key, request_hash, ids) VALUES ($1, $2, $3, '{}') ON CONFLICT DO NOTHING`,
        [opts.entity.name, key, hash],
      );
      if (claimed.rowCount === 0) {
        const { rows } = await client.query<{ request_hash: string; ids: string[] }>(
          'SELECT request_hash, ids FROM kdb_ingest_keys WHERE entity = $1 AND key = $2',
          [opts.entity.name, key],
        );
        if (rows[0]!.request_hash !== hash) {
          throw new ConflictError(`Idempotency-Key "${key}" was already used for different records of entity "${opts.entity.name}"; use a new key for a new request`, {
            entity: opts.entity.name,
            key,
          });
        }
        return { ids: rows[0]!.ids, replayed: true };
      }
    }
    const out: string[] = [];
    const keywords = await KeywordIndexWriter.open(client, opts.entity.name, { batchDocs: opts.postingsBatch ?? POSTINGS_BATCH_DOCS });
    for (let i = 0; i < valid.length; i += chunkSize) {
      const chunk = await writeRecordChunk(client, opts.entity, valid.slice(i, i + chunkSize), keywords);
      out.push(...chunk.ids);
      await keywords.add(client, chunk.docs);
    }
    await keywords.flush(client);
    if (key !== undefined) await client.query('UPDATE kdb_ingest_keys SET ids = $3 WHERE entity = $1 AND key = $2', [opts.entity.name, key, out]);
    return { ids: out, replayed: false };
  }).catch((err: unknown) => {
    // A unique field's value taken by a stored record or repeated in this request: rolled back, 409.
    throw uniqueViolation(err, opts.entity) ?? err;
  });
  let toEnqueue = written.ids;
  if (written.replayed) {
    // The first attempt may have died between its commit and its enqueue.
    toEnqueue = await pendingIds(opts.pool, written.ids);
  }
  const replayed = written.replayed ? { replayed: true } : {};
  try {
    const jobs = toEnqueue.length ? await enqueueEmbed(opts.queue, toEnqueue, { chunkSize: opts.jobSize ?? DEFAULTS.jobSize, buildingSpaces: opts.buildingSpaces ?? [] }) : 0;
    return { ids: written.ids, jobs, ...replayed };
  } catch (err) {
    return { ids: written.ids, jobs: 0, enqueueError: (err as Error).message, ...replayed };
  }
}
