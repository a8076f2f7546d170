import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { ConflictError, TooManyRecordsError, ValidationError } from '../errors.js';
import type { Entity } from '@kameleondb/schemas';
import { DEFAULTS } from '../config/defaults.js';
import { uniqueViolation } from '../entities/uniqueFieldIndex.js';
import { validateRecord } from '../entities/validateRecord.js';
import { enqueueEmbed, type EmbedJobData } from '../jobs/embedQueue.js';
import { lockEntityUnchanged } from '../store/lockEntityUnchanged.js';
import { prepareRecordChunk, writeRecordChunk, type PreparedChunk } from '../store/recordStore.js';
import { KeywordIndexWriter, POSTINGS_BATCH_DOCS } from '../store/keywordIndex.js';
import { pendingIds } from '../store/searchRowStore.js';
import { addIngestKeyIds, claimIngestKey, sealIngestKey, storedKeyIds } from '../store/ingestKeyStore.js';
import { recordChars } from './recordChars.js';
import { RecordIds } from './RecordIds.js';
import { touchCachedRows } from '../cache/embeddingCache.js';
import type { BackgroundTasks } from '../util/BackgroundTasks.js';
import type { CacheStats } from '../cache/CacheStats.js';
import { lockActiveSpaceShared } from '../store/embeddingSpaceStore.js';
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
   * Characters of records (recordChars) after which a chunk ends before its
   * `chunkSize` rows. Default CHUNK_CHARS (4,000,000): records of 1,000 characters
   * fill 4,000 rows; records at the field limit end a chunk every four, so
   * two chunks of text hold the same memory whatever the records' count (a
   * json value's nodes are counted too, but parsed they weigh more than that).
   */
  chunkChars?: number;
  /**
   * Documents whose postings are written by one COPY. Default 50,000
   * (POSTINGS_BATCH_DOCS): the statement's trigger updates each term's
   * document frequency once per batch, where per-chunk postings update the
   * common terms once per chunk, each time slower since one transaction
   * keeps every version (docs/decisions/postings-batches.md). A batch ends
   * sooner at KeywordIndexWriter's term and byte bounds.
   */
  postingsBatch?: number;
  /** Chunks of at least this many records have their postings written as blocks (KeywordIndexWriter's blocksMinDocs). */
  blocksMinDocs?: number;
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
  /**
   * Rows whose text the embedding cache holds for the active space get their
   * vector in the ingest transaction and commit `ready`; only the others get
   * embed jobs for the active space. Default true: through the jobs, an
   * ingest of cached texts took as long as a first one
   * (docs/decisions/cached-vectors-in-ingest-transaction.md).
   */
  cachedVectors?: boolean;
  /** Counts the texts found in the cache (the workers count their own hits and misses). */
  cacheStats?: Pick<CacheStats, 'add'>;
  /**
   * Where the cache-hit counts go once the records are committed: the answer
   * does not wait for them (rewriting the hit entries took about a sixth of a
   * re-ingest's request; docs/decisions/cache-hits-counted-after-answer.md).
   * Without it, the ingest awaits them before returning.
   */
  background?: Pick<BackgroundTasks, 'add'>;
}

export interface IngestResult {
  /** The records' ids in request order, 16 bytes each (RecordIds): the answer streams them out. */
  ids: RecordIds;
  /** Embed jobs enqueued; 0 with `enqueueError` set when Redis refused them. */
  jobs: number;
  /** Rows that committed `ready` with a vector from the embedding cache (no embed job for the active space). */
  cached: number;
  /** Set when the records were committed but enqueueing failed: they stay pending. */
  enqueueError?: string;
  /** True when an earlier request with this idempotency key had written the records. */
  replayed?: boolean;
}

/** Most records one request may carry by default, in an ingest and in a batch update. */
export const MAX_REQUEST_RECORDS = 1_000_000;

/** Keys are opaque to the server: printable ASCII, 1–200 characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** Ids per embed-job enqueue (one `addBulk`): bounds the job data built at once for a huge request. */
const ENQUEUE_SLICE_IDS = 100_000;

/** Default of `chunkChars`. */
export const CHUNK_CHARS = 4_000_000;

/**
 * Streams the records into ONE transaction: each record is validated as it
 * arrives, and every `chunkSize` of them (or `chunkChars` of their text) are written (postings by larger
 * batches), the next chunk prepared while one is written, so memory holds
 * two chunks and a postings batch, plus 16 bytes per
 * id (RecordIds), whatever the request's size. The transaction opens once
 * the first chunk is full (or the input ended): a small request never holds
 * a connection while its body arrives. Rows whose text the embedding cache
 * holds for the active space are written `ready` with that vector in the
 * same transaction (insertSearchRows); after the commit, embed jobs are
 * enqueued in slices for the others (and for every row in each space being
 * built), and the cache hits are recorded.
 * - Bad input anywhere (a bad line, the record cap, the body limit, a
 *   client that hangs up): the transaction rolls back, nothing is written,
 *   the error names the record.
 * - Process dies before the commit: nothing is written; the client saw no
 *   answer and may retry.
 * - Process dies (or Redis fails) after the commit: the rows are durable and
 *   `pending`; the sweeper enqueues pending rows that have no job. A failure
 *   halfway through the enqueue slices leaves the rest to the sweeper too.
 * - With an idempotency key, the key row commits with the records: a retry
 *   after any of the above either writes the records (the first attempt did
 *   not commit) or returns the committed ids (it did), never a second copy;
 *   its still-pending rows are enqueued again. Two requests with one key at
 *   once: the second waits on the first's key row, then replays or writes.
 */
export async function ingestRecords(opts: IngestOptions): Promise<IngestResult> {
  const chunkSize = opts.chunkSize ?? 5000;
  const chunkChars = opts.chunkChars ?? CHUNK_CHARS;
  const maxRecords = opts.maxRecords ?? MAX_REQUEST_RECORDS;
  const key = opts.idempotencyKey;
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw new ValidationError(`Idempotency-Key must be 1–200 printable ASCII characters without spaces; got ${JSON.stringify(key.slice(0, 40))}${key.length > 40 ? '…' : ''} (${key.length} characters)`, { header: 'Idempotency-Key' });
  }
  const requestHash = createHash('sha256');
  const slice = new CpuSlice();
  const source = (Symbol.asyncIterator in opts.records ? opts.records[Symbol.asyncIterator]() : opts.records[Symbol.iterator]()) as
    | AsyncIterator<SourcedValue>
    | Iterator<SourcedValue>;
  let read = 0;
  /** Up to `chunkSize` more validated records, or up to `chunkChars` of them; fewer only at the end of the input. */
  const nextChunk = async (): Promise<Record<string, unknown>[]> => {
    const chunk: Record<string, unknown>[] = [];
    let chars = 0;
    while (chunk.length < chunkSize && chars < chunkChars) {
      const next = await source.next();
      if (next.done) break;
      const { value, where } = next.value;
      if (read >= maxRecords) throw new TooManyRecordsError(`too many records in one request: the limit is ${maxRecords} (KDB_MAX_RECORDS_PER_REQUEST); ${where} is one more`, { limit: maxRecords });
      read += 1;
      const record = validateRecord(opts.entity, value, where);
      if (key !== undefined) requestHash.update(`${JSON.stringify(record)}\n`);
      chunk.push(record);
      chars += recordChars(record);
      // Let other requests (searches) run between slices of a large body.
      if (slice.due()) await slice.pause();
    }
    return chunk;
  };
  try {
    let chunk = await nextChunk();
    if (chunk.length === 0) throw new ValidationError('no records in the request body');

    const written = await withTransaction(opts.pool, async (client) => {
      // The records were validated against the entity as read before: it must still be that entity.
      await lockEntityUnchanged(client, opts.entity);
      if (key !== undefined) {
        // Waits while another transaction holds this key; then either it is ours or it was committed.
        if (!(await claimIngestKey(client, opts.entity.name, key))) {
          // Committed before: the rest of the body is read (and validated) only to compare its hash.
          while (chunk.length > 0) chunk = await nextChunk();
          const stored = await storedKeyIds(client, opts.entity.name, key, requestHash.digest('hex'));
          if (!stored) {
            throw new ConflictError(`Idempotency-Key "${key}" was already used for different records of entity "${opts.entity.name}"; use a new key for a new request`, {
              entity: opts.entity.name,
              key,
            });
          }
          return { ids: stored, pending: null, hits: null, cachedTexts: 0, space: null, replayed: true };
        }
      }
      // A switch of the active space waits for this commit, then recomputes these rows' statuses.
      const space = opts.cachedVectors === false ? null : await lockActiveSpaceShared(client);
      const ids = new RecordIds(Math.min(maxRecords, 1 << 16));
      // Without a space every row is pending: `pending` then stays null and means all of `ids`.
      const pending = space ? new RecordIds(1024) : null;
      const hits = space ? new RecordIds(1024) : null;
      let cachedTexts = 0;
      const keywords = await KeywordIndexWriter.open(client, opts.entity.name, { batchDocs: opts.postingsBatch ?? POSTINGS_BATCH_DOCS, ...(opts.blocksMinDocs !== undefined ? { blocksMinDocs: opts.blocksMinDocs } : {}) });
      // The next chunk is read, validated and prepared while this one's statements run: the
      // process's CPU and the server's overlap instead of taking turns
      // (docs/decisions/ingest-chunks-overlapped.md).
      const prepareNext = async (): Promise<PreparedChunk | null> => {
        const records = await nextChunk();
        return records.length ? prepareRecordChunk(opts.entity, records, keywords) : null;
      };
      let current: PreparedChunk | null = await prepareRecordChunk(opts.entity, chunk, keywords);
      chunk = [];
      // Handed to its write and dropped here: once written only its terms are kept, so memory
      // holds those and the next chunk.
      const take = (): PreparedChunk => {
        const c = current!;
        current = null;
        return c;
      };
      for (let seq = 0; current; seq++) {
        const writing = writeRecordChunk(client, opts.entity, take(), space, keywords);
        // On a failure below the transaction rolls back at once: the next chunk's reading uses no
        // connection, its own failure is handled here, and the body's reader is stopped after it
        // (source.return below).
        const next = prepareNext();
        next.catch(() => undefined);
        const out = await writing;
        ids.push(out.ids);
        if (pending && hits) {
          pending.push(out.pending);
          const missed = new Set(out.pending);
          hits.push(out.ids.filter((id) => !missed.has(id)));
        }
        cachedTexts += out.cachedTexts;
        if (key !== undefined) await addIngestKeyIds(client, opts.entity.name, key, seq, out.ids);
        await keywords.add(client, out.docs);
        current = await next;
      }
      await keywords.flush(client);
      if (key !== undefined) await sealIngestKey(client, opts.entity.name, key, requestHash.digest('hex'));
      return { ids, pending, hits, cachedTexts, space, replayed: false };
    }).catch((err: unknown) => {
      // A unique field's value taken by a stored record or repeated in this request: rolled back, 409.
      throw uniqueViolation(err, opts.entity) ?? err;
    });
    const replayed = written.replayed ? { replayed: true } : {};
    const cached = written.hits?.length ?? 0;
    let jobs = 0;
    let enqueueError: string | undefined;
    const enqueue = { chunkSize: opts.jobSize ?? DEFAULTS.jobSize, buildingSpaces: opts.buildingSpaces ?? [] };
    try {
      if (written.pending) {
        // The active space's jobs for the rows left pending; each space being built gets jobs for every row.
        for (const ids of written.pending.slices(ENQUEUE_SLICE_IDS)) jobs += await enqueueEmbed(opts.queue, ids, { ...enqueue, buildingSpaces: [] });
        if (enqueue.buildingSpaces.length) for (const ids of written.ids.slices(ENQUEUE_SLICE_IDS)) jobs += await enqueueEmbed(opts.queue, ids, { ...enqueue, onlyBuilding: true });
      } else {
        for (const ids of written.ids.slices(ENQUEUE_SLICE_IDS)) {
          // The first attempt may have died between its commit and its enqueue.
          const toEnqueue = written.replayed ? await pendingIds(opts.pool, ids) : ids;
          if (toEnqueue.length) jobs += await enqueueEmbed(opts.queue, toEnqueue, enqueue);
        }
      }
    } catch (err) {
      enqueueError = (err as Error).message;
    }
    // After the enqueue: the misses' jobs do not wait for the hit counts.
    if (written.space && written.hits && cached > 0) {
      const counting = countCacheHits(opts, written.space.modelKey, written.hits, written.cachedTexts);
      if (opts.background) opts.background.add(counting);
      else await counting;
    }
    return { ids: written.ids, jobs, cached, ...(enqueueError === undefined ? {} : { enqueueError }), ...replayed };
  } finally {
    // Stops the body's reader when a record was refused before the end (a no-op once it ended).
    await source.return?.();
  }
}

/**
 * Records the hits of the rows that took a cached vector: one per distinct
 * text and slice on the cache entries (their `hits` and `last_used_at`, which
 * eviction reads), and in the shared counters. Best effort after the commit,
 * as the workers' counters are: the rows are written whatever happens here,
 * and a process that dies before it ends loses those counts (the entries
 * then look less used to eviction), nothing else.
 */
async function countCacheHits(opts: IngestOptions, modelKey: string, hits: RecordIds, cachedTexts: number): Promise<void> {
  try {
    // Not awaited: with Redis away its client queues the command, and the answer must not wait for Redis's return.
    void opts.cacheStats?.add(cachedTexts, 0).catch(() => undefined);
    for (const slice of hits.slices(ENQUEUE_SLICE_IDS)) await touchCachedRows(opts.pool, modelKey, slice);
  } catch {
    // A lost hit count costs nothing but an earlier eviction of that entry.
  }
}
