import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { EmbedClaims } from '../cache/EmbedClaims.js';
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
  /** In-flight claims shared with other batches, so a text two of them hold at once is embedded once. Default none: every miss is embedded. */
  claims?: EmbedClaims;
}

export const EMPTY_TEXT_ERROR = 'nothing to embed: the embed fields of this record are empty';

/**
 * The batching core, for one coalesced set of ids:
 * 1. load the rows still needing work; 2. dedupe identical texts; 3. one cache
 * lookup; 4. with `claims`, the misses claimed (EmbedClaims); 5. provider
 * calls for the misses it claimed, in provider-sized requests, and one
 * transaction inserting their cache entries; then the wait for the misses
 * other batches hold, and the same for those that came free without an
 * entry; 6. one guarded row update (in chunks when `writeChunkSize` is set,
 * so a cancel takes effect between them). Its own texts come before the
 * wait: two batches each holding a text the other waits for would otherwise
 * both wait to the end of `maxWaitMs`.
 *
 * Crash safety: only cache entries are written before step 6. A process dying
 * before a cache commit leaves rows pending and its jobs active; BullMQ hands
 * the stalled jobs to another worker, which redoes the batch, and its claims
 * end with their lease. Dying between the cache commit and the row update
 * leaves cache entries the redo then hits.
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

  const failures: { hashes: Set<string>; message: string }[] = [];
  /**
   * A permanent error on a request of several inputs is bisected until the
   * inputs it comes from are isolated: only those rows fail, with the
   * provider's message; every other text of the batch is embedded.
   */
  const embedChunk = async (chunk: string[], entries: CacheEntry[]): Promise<void> => {
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
      await embedChunk(chunk.slice(0, half), entries);
      await embedChunk(chunk.slice(half), entries);
    }
  };
  /** Embeds `todo` and commits the entries, also those of the requests before one that threw: the retry then finds them cached. */
  const embedAndCache = async (todo: readonly string[]): Promise<void> => {
    const entries: CacheEntry[] = [];
    try {
      for (let i = 0; i < todo.length; i += provider.limits.maxInputs) await embedChunk(todo.slice(i, i + provider.limits.maxInputs), entries);
    } finally {
      if (entries.length) await withTransaction(pool, (c) => insertCacheEntries(c, modelKey, entries));
    }
  };

  const claims = opts.claims;
  const token = randomUUID();
  /** Texts this batch holds claims on, released once their entries are committed or the batch failed. */
  const held: string[] = [];
  let own = hashes.filter((h) => !hits.has(h));
  let others: string[] = [];
  if (claims && own.length) {
    ({ mine: own, theirs: others } = await claims.claim(modelKey, own, token));
    // Another batch may have committed a text and released its claim between the lookup and the claim.
    const late = own.length ? await touchCachedHashes(pool, modelKey, own) : new Set<string>();
    for (const h of late) hits.add(h);
    own = own.filter((h) => !late.has(h));
    held.push(...own);
    if (late.size) await claims.release(modelKey, [...late], token);
  }
  const renew = claims ? setInterval(() => void claims.renew(modelKey, held, token), Math.floor(claims.leaseMs / 3)) : undefined;
  const release = async () => {
    if (claims && held.length) await claims.release(modelKey, held.splice(0), token);
  };
  try {
    await embedAndCache(own);
    await release();
    if (claims && others.length) {
      const waited = await claims.waitFor(modelKey, others, token, (h) => touchCachedHashes(pool, modelKey, h), opts.signal);
      for (const h of waited.cached) hits.add(h);
      held.push(...waited.claimed);
      await embedAndCache([...waited.claimed, ...waited.unclaimed]);
    }
  } finally {
    clearInterval(renew);
    await release();
  }
  result.cached = hits.size;
  const misses = hashes.filter((h) => !hits.has(h));
  result.misses = misses.length;

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
