import type pg from 'pg';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { ProviderError } from '../errors.js';
import { insertCacheEntries, touchCachedHashes, type CacheEntry } from '../cache/embeddingCache.js';
import { applyCachedVectors, markRowsFailed, selectRowsNeedingWork, type RowToEmbed } from '../store/searchRowStore.js';
import { withTransaction } from '../store/withTransaction.js';

export interface EmbedBatchResult {
  /** Rows of the batch that needed work. */
  rows: number;
  /** Rows that received a vector. */
  written: number;
  /** Distinct texts sent to the provider. */
  embedded: number;
  /** Distinct texts found in the cache. */
  cached: number;
  /** Rows marked failed (empty text or a permanent provider error). */
  failed: number;
  /** Provider requests made. */
  requests: number;
}

export interface EmbedBatchOptions {
  pool: pg.Pool;
  provider: EmbeddingProvider;
  /** Record ids of the coalesced jobs. */
  ids: readonly string[];
  signal?: AbortSignal;
}

export const EMPTY_TEXT_ERROR = 'nothing to embed: the embed fields of this record are empty';

/**
 * The batching core, for one coalesced set of ids:
 * 1. load the rows still needing work; 2. dedupe identical texts; 3. one cache
 * lookup; 4. provider calls for misses only, in provider-sized requests;
 * 5. one transaction: cache insert + one guarded row update.
 *
 * Crash safety: nothing is written before step 5, which commits or not as a
 * whole. A process dying before the commit leaves rows pending and its jobs
 * active; BullMQ hands the stalled jobs to another worker, which redoes the
 * batch (cache hits make that cheap). Retryable provider errors propagate so
 * the jobs are retried; permanent ones mark just those rows failed.
 */
export async function embedBatch(opts: EmbedBatchOptions): Promise<EmbedBatchResult> {
  const { pool, provider } = opts;
  const modelKey = provider.modelKey;
  const result: EmbedBatchResult = { rows: 0, written: 0, embedded: 0, cached: 0, failed: 0, requests: 0 };
  const rows = await selectRowsNeedingWork(pool, opts.ids, modelKey);
  result.rows = rows.length;
  if (rows.length === 0) return result;

  const empty: RowToEmbed[] = [];
  const byHash = new Map<string, string>();
  for (const row of rows) {
    if (row.content === '') empty.push(row);
    else byHash.set(row.content_hash, row.content);
  }
  if (empty.length) {
    result.failed += await markRowsFailed(
      pool,
      empty.map((r) => r.record_id),
      empty.map((r) => r.content_hash),
      EMPTY_TEXT_ERROR,
      { settledFor: modelKey },
    );
  }

  const hashes = [...byHash.keys()];
  const hits = await touchCachedHashes(pool, modelKey, hashes);
  result.cached = hits.size;
  const misses = hashes.filter((h) => !hits.has(h));

  const entries: CacheEntry[] = [];
  const failures: { hashes: Set<string>; message: string }[] = [];
  for (let i = 0; i < misses.length; i += provider.limits.maxInputs) {
    opts.signal?.throwIfAborted();
    const chunk = misses.slice(i, i + provider.limits.maxInputs);
    result.requests += 1;
    try {
      const vectors = await provider.embed(
        chunk.map((h) => byHash.get(h)!),
        opts.signal ? { signal: opts.signal } : {},
      );
      chunk.forEach((hash, j) => entries.push({ hash, vector: vectors[j]! }));
      result.embedded += chunk.length;
    } catch (err) {
      if (err instanceof ProviderError && !err.retryable) {
        failures.push({ hashes: new Set(chunk), message: err.message });
      } else {
        // Keep what earlier requests produced: the retry then finds it cached.
        if (entries.length) await withTransaction(pool, (c) => insertCacheEntries(c, modelKey, entries));
        throw err;
      }
    }
  }

  result.written = await withTransaction(pool, async (client) => {
    await insertCacheEntries(client, modelKey, entries);
    return applyCachedVectors(client, rows.filter((r) => r.content !== '').map((r) => r.record_id), modelKey);
  });

  for (const failure of failures) {
    const these = rows.filter((r) => failure.hashes.has(r.content_hash));
    result.failed += await markRowsFailed(pool, these.map((r) => r.record_id), these.map((r) => r.content_hash), failure.message);
  }
  return result;
}
