import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { readResultVersions } from '../store/resultVersionStore.js';

/** What the cache counts (each also a Prometheus counter in the API). */
export type ResultCacheEvent = 'hit' | 'miss' | 'eviction' | 'invalidation';

export interface ResultCacheOptions {
  /** Where kdb_result_versions lives (the pool the searches use). Required. */
  pool: pg.Pool;
  /** Answers kept at most. Default 1000. */
  maxEntries?: number | undefined;
  /** Bytes of kept answers at most (their JSON size; an answer larger than this is not kept). Default 64 MiB. */
  maxBytes?: number | undefined;
  /** Called on every hit, miss, eviction (a bound made room) and invalidation (a kept answer found out of date). Default none. */
  onEvent?: ((event: ResultCacheEvent) => void) | undefined;
}

interface Entry<T> {
  /** The result versions read before the answer's retrievers ran. */
  versions: string;
  answer: T;
}

export const DEFAULT_RESULT_CACHE_ENTRIES = 1000;
export const DEFAULT_RESULT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * An in-process LRU of search answers that is never stale: each answer is
 * kept with the result versions of its entities read before its retrievers
 * ran (sql/000012_result_versions.sql), and served only while the versions
 * read at the new search are the same. Any committed write to one of those
 * entities, from any process, changes them; so does a space switch or a
 * segment change (the global version). The check is one indexed statement
 * per search, hit or miss (docs/decisions/result-cache-versions.md).
 */
export class ResultCache<T extends object> {
  private readonly lru: LRUCache<string, Entry<T>>;
  private readonly emit: (event: ResultCacheEvent) => void;
  readonly maxEntries: number;
  readonly maxBytes: number;

  constructor(private readonly opts: ResultCacheOptions) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_RESULT_CACHE_ENTRIES;
    this.maxBytes = opts.maxBytes ?? DEFAULT_RESULT_CACHE_BYTES;
    this.emit = opts.onEvent ?? (() => {});
    this.lru = new LRUCache<string, Entry<T>>({
      max: this.maxEntries,
      maxSize: this.maxBytes,
      // UTF-16 key plus the answer's JSON (what it costs to keep, near enough, and what it costs to send).
      sizeCalculation: (entry, key) => key.length * 2 + Buffer.byteLength(JSON.stringify(entry.answer)),
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.emit('eviction');
      },
    });
  }

  /** Answers kept now, and their bytes. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }

  /**
   * The answer kept under `key` if the versions of `entities` are still the
   * ones it was kept under; otherwise `compute()`'s answer, kept under the
   * versions read before it ran. `key` must name everything the answer
   * depends on besides the entities' data (the request, the definitions, the space).
   * `db` is the server `compute` runs on (a replica, for one): the versions
   * must be read where the answer is computed. Default the cache's pool.
   */
  async through(key: string, entities: readonly string[], compute: () => Promise<T>, db: pg.Pool = this.opts.pool): Promise<{ answer: T; cached: boolean }> {
    const versions = await readResultVersions(db, entities);
    const kept = this.lru.get(key);
    if (kept && kept.versions === versions) {
      this.emit('hit');
      return { answer: kept.answer, cached: true };
    }
    if (kept) {
      this.lru.delete(key);
      this.emit('invalidation');
    }
    this.emit('miss');
    const answer = await compute();
    this.lru.set(key, { versions, answer });
    return { answer, cached: false };
  }

  /** Forgets every answer (tests, and an operator who wants the memory back). */
  clear(): void {
    this.lru.clear();
  }
}
