import type pg from 'pg';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { ProviderError } from '../errors.js';
import { insertCacheEntries, touchCachedHashes, type CacheEntry } from '../cache/embeddingCache.js';
import { writeRowVectors, markRowsFailed, selectRowsNeedingWork, type RowToEmbed, type VectorSpaceRef } from '../store/searchRowStore.js';
import { spaceForSeed } from '../store/embeddingSpaceStore.js';
import { withTransaction } from '../store/withTransaction.js';

/** What happened to one record id of a batch. */
export type Outcome = 'embedded' | 'cached' | 'failed' | 'skipped' | 'cancelled';

export interface EmbedBatchResult {
  /** Rows of the batch that needed work. */
  rows: number;
  /** Rows that received a vector. */
  written: number;
  /** Distinct texts sent to the provider and embedded. */
  embedded: number;
  /** Distinct texts found in the cache. */
  cached: number;
  /** Distinct texts not found in the cache. */
  misses: number;
  /** Rows marked failed (empty text or a permanent provider error). */
  failed: number;
  /** Provider requests made. */
  requests: number;
}

export interface EmbedBatchOptions {
  pool: pg.Pool;
  provider: EmbeddingProvider;
  /** The space written (its model key is the provider's). Default: the space of the provider's model key. */
  space?: VectorSpaceRef;
  /** Record ids of the coalesced jobs. */
  ids: readonly string[];
  /** Ids processed even when up to date (forced reindex). */
  forceIds?: readonly string[];
  signal?: AbortSignal;
  /** Rows per write transaction. Default: all rows in one. */
  writeChunkSize?: number;
  /** Called before each row write with the ids about to be written; returns those still wanted (cancellation). */
  beforeWrite?: (ids: string[]) => Promise<string[]>;
}

export const EMPTY_TEXT_ERROR = 'nothing to embed: the embed fields of this record are empty';

/**
 * The batching core, for one coalesced set of ids:
 * 1. load the rows still needing work; 2. dedupe identical texts; 3. one cache
 * lookup; 4. provider calls for misses only, in provider-sized requests;
 * 5. one transaction inserting the new cache entries, then one guarded row
 * update (in chunks when `writeChunkSize` is set, so a cancel takes effect
 * between them).
 *
 * Crash safety: nothing is written before step 5. A process dying before the
 * cache commit leaves rows pending and its jobs active; BullMQ hands the
 * stalled jobs to another worker, which redoes the batch. Dying between the
 * cache commit and the row update leaves cache entries the redo then hits.
 * Retryable provider errors propagate so the jobs are retried; a permanent
 * one is bisected down to the inputs causing it, and just those rows fail.
 */
export async function embedBatch(opts: EmbedBatchOptions): Promise<EmbedBatchResult & { outcomes: Map<string, Outcome> }> {
  const { pool, provider } = opts;
  const modelKey = provider.modelKey;
  const space = opts.space ?? (await spaceForSeed(pool, { provider: provider.name, model: provider.model, dimensions: provider.dimensions }));
  if (space.modelKey !== modelKey) throw new Error(`embedBatch: provider "${modelKey}" cannot embed into space "${space.modelKey}"`);
  const forceIds = opts.forceIds ?? [];
  const result: EmbedBatchResult = { rows: 0, written: 0, embedded: 0, cached: 0, misses: 0, failed: 0, requests: 0 };
  const outcomes = new Map<string, Outcome>(opts.ids.map((id) => [id, 'skipped']));
  const rows = await selectRowsNeedingWork(pool, opts.ids, space, forceIds);
  result.rows = rows.length;
  if (rows.length === 0) return { ...result, outcomes };

  const empty: RowToEmbed[] = [];
  const byHash = new Map<string, string>();
  for (const row of rows) {
    if (row.content === '') empty.push(row);
    else byHash.set(row.content_hash, row.content);
  }
  if (empty.length) {
    result.failed += await markRowsFailed(
      pool,
      space,
      empty.map((r) => r.record_id),
      empty.map((r) => r.content_hash),
      EMPTY_TEXT_ERROR,
      { settled: true },
    );
    for (const r of empty) outcomes.set(r.record_id, 'failed');
  }

  const hashes = [...byHash.keys()];
  const hits = await touchCachedHashes(pool, modelKey, hashes);
  result.cached = hits.size;
  const misses = hashes.filter((h) => !hits.has(h));
  result.misses = misses.length;

  const entries: CacheEntry[] = [];
  const failures: { hashes: Set<string>; message: string }[] = [];
  /**
   * A permanent error on a request of several inputs is bisected until the
   * inputs it comes from are isolated: only those rows fail, with the
   * provider's message; every other text of the batch is embedded.
   */
  const embedChunk = async (chunk: string[]): Promise<void> => {
    opts.signal?.throwIfAborted();
    result.requests += 1;
    try {
      const vectors = await provider.embed(
        chunk.map((h) => byHash.get(h)!),
        opts.signal ? { signal: opts.signal } : {},
      );
      chunk.forEach((hash, j) => entries.push({ hash, vector: vectors[j]! }));
      result.embedded += chunk.length;
    } catch (err) {
      if (!(err instanceof ProviderError) || err.retryable || opts.signal?.aborted) throw err;
      if (chunk.length === 1) {
        failures.push({ hashes: new Set(chunk), message: err.message });
        return;
      }
      const half = Math.ceil(chunk.length / 2);
      await embedChunk(chunk.slice(0, half));
      await embedChunk(chunk.slice(half));
    }
  };
  try {
    for (let i = 0; i < misses.length; i += provider.limits.maxInputs) await embedChunk(misses.slice(i, i + provider.limits.maxInputs));
  } catch (err) {
    // Keep what earlier requests produced: the retry then finds it cached.
    if (entries.length) await withTransaction(pool, (c) => insertCacheEntries(c, modelKey, entries));
    throw err;
  }

  if (entries.length) await withTransaction(pool, (c) => insertCacheEntries(c, modelKey, entries));
  const failedHash = (h: string) => failures.some((f) => f.hashes.has(h));
  const writable = rows.filter((r) => r.content !== '' && !failedHash(r.content_hash));
  const hashOf = new Map(writable.map((r) => [r.record_id, r.content_hash]));
  const missed = new Set(misses);
  const step = opts.writeChunkSize ?? Math.max(writable.length, 1);
  for (let i = 0; i < writable.length; i += step) {
    const chunk = writable.slice(i, i + step).map((r) => r.record_id);
    const allowed = opts.beforeWrite ? await opts.beforeWrite(chunk) : chunk;
    const allowedSet = new Set(allowed);
    for (const id of chunk) {
      outcomes.set(id, !allowedSet.has(id) ? 'cancelled' : missed.has(hashOf.get(id)!) ? 'embedded' : 'cached');
    }
    result.written += await writeRowVectors(pool, allowed, space, forceIds);
  }

  for (const failure of failures) {
    const these = rows.filter((r) => failure.hashes.has(r.content_hash));
    result.failed += await markRowsFailed(pool, space, these.map((r) => r.record_id), these.map((r) => r.content_hash), failure.message);
    for (const r of these) outcomes.set(r.record_id, 'failed');
  }
  return { ...result, outcomes };
}
