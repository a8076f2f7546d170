import type pg from 'pg';
import { withTransaction } from '../store/withTransaction.js';
import { insertCacheEntries, type CacheEntry } from './embeddingCache.js';

/**
 * Embedding-cache writes that must not hold up their caller: the vectors of
 * new search queries. They are kept in memory and written together, one
 * transaction every `delayMs` (or at once when `maxPending` wait), whose
 * commit does not wait for the WAL flush: an entry lost in a crash is only
 * recomputed. Written one by one, each new query's vector took four
 * statements and a PostgreSQL session beside the search's own: hybrid
 * searches with texts new to the API had p95 18.8–25.0 ms, written behind
 * 12.9–17.9 ms (texts seen before: 8–11 ms either way; BENCHMARKS.md,
 * measured by hand 2026-12-01 with scripts/bench/measureQueryVectorMiss.ts).
 */
export class CacheWriteBehind {
  private readonly pending = new Map<string, CacheEntry>();
  private timer: NodeJS.Timeout | undefined;
  private written: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly modelKey: string,
    private readonly opts: { delayMs?: number; maxPending?: number } = {},
  ) {}

  add(entry: CacheEntry): void {
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
}
