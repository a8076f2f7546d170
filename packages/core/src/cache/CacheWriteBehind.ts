import type pg from 'pg';
import { withTransaction } from '../store/withTransaction.js';
import { insertCacheEntries, type CacheEntry } from './embeddingCache.js';

export interface CacheWriteBehindOptions {
  /** Longest wait of an entry before its transaction, in ms. Default 250. */
  delayMs?: number;
  /** Entries that start a transaction at once. Default 500. */
  maxPending?: number;
}

/**
 * Embedding-cache writes that must not hold up their caller: the vectors of
 * new search queries. They are kept in memory and written together, one
 * transaction every `delayMs` (or at once when `maxPending` wait), whose
 * commit does not wait for the WAL flush: an entry lost in a crash is only
 * recomputed. Writing each one at once costs a transaction of its own on a
 * second session beside the search's, which slows the searches of new texts
 * (docs/decisions/query-vector-write-behind.md).
 */
export class CacheWriteBehind {
  private readonly pending = new Map<string, CacheEntry>();
  private timer: NodeJS.Timeout | undefined;
  private written: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly modelKey: string,
    private readonly opts: CacheWriteBehindOptions = {},
  ) {}

  /** Queues an entry; after close() it is dropped (the pool is about to end). */
  add(entry: CacheEntry): void {
    if (this.closed) return;
    this.pending.set(entry.hash, entry);
    if (this.pending.size >= (this.opts.maxPending ?? 500)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.delayMs ?? 250).unref();
  }

  /** Writes what is pending; resolves once it and every earlier flush are written. Failures are dropped: the cache is best effort. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return this.written;
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.written = this.written
      .then(() =>
        withTransaction(this.pool, async (client) => {
          await client.query('SET LOCAL synchronous_commit = off');
          await insertCacheEntries(client, this.modelKey, entries);
        }),
      )
      .catch(() => undefined);
    return this.written;
  }

  /** Writes what is pending and takes no more entries; resolves once all is written. */
  close(): Promise<void> {
    this.closed = true;
    return this.flush();
  }
}
