import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { normalizeText } from '../content/normalizeText.js';
import { textHash } from '../content/textHash.js';
import { readCachedVector } from '../cache/embeddingCache.js';
import { CacheWriteBehind } from '../cache/CacheWriteBehind.js';

export interface QueryVectorCacheOptions {
  /** Where the embedding cache table lives. Required. */
  pool: pg.Pool;
  /** Embeds the texts found in neither cache; its modelKey keys the cache table. Required. */
  provider: EmbeddingProvider;
  /** Query vectors kept in process. Default 1000. */
  size?: number | undefined;
}

/**
 * The vectors of search queries, by their normal form: the in-process LRU,
 * then the embedding cache table (shared with the other API processes and
 * the workers), then the provider. A vector the provider made goes to the
 * table behind the search (CacheWriteBehind).
 */
export class QueryVectorCache {
  private readonly inProcess: LRUCache<string, number[]>;
  private readonly writes: CacheWriteBehind;

  constructor(private readonly opts: QueryVectorCacheOptions) {
    this.inProcess = new LRUCache({ max: opts.size ?? 1000 });
    this.writes = new CacheWriteBehind(opts.pool, opts.provider.modelKey);
  }

  /** The vector of query text `q`. */
  async get(q: string): Promise<number[]> {
    const { provider, pool } = this.opts;
    const text = normalizeText(q);
    const key = textHash(text);
    const hit = this.inProcess.get(key);
    if (hit) return hit;
    let vector = await readCachedVector(pool, provider.modelKey, key);
    if (!vector) {
      const embedded = (await provider.embed([text]))[0]!;
      vector = Array.from(embedded);
      this.writes.add({ hash: key, vector: embedded });
    }
    this.inProcess.set(key, vector);
    return vector;
  }

  /** Writes the vectors still on their way to the cache table and takes no more (call before the pool ends). */
  close(): Promise<void> {
    return this.writes.close();
  }
}
