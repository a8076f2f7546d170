import type { RedisClient } from '../redis/createRedis.js';

/**
 * Cache hit/miss counters shared by all workers (one Redis hash, one
 * HINCRBY pair per batch), kept since `since`.
 */
export class CacheStats {
  private readonly key: string;
  constructor(
    private readonly redis: RedisClient,
    /** The BullMQ prefix, so the key shares its hash tag. */
    prefix: string,
  ) {
    this.key = `${prefix}:cache:stats`;
  }

  async add(hits: number, misses: number): Promise<void> {
    if (hits === 0 && misses === 0) return;
    await this.redis.multi().hsetnx(this.key, 'since', new Date().toISOString()).hincrby(this.key, 'hits', hits).hincrby(this.key, 'misses', misses).exec();
  }

  async read(): Promise<{ hits: number; misses: number; since: string | null; hitRate: number | null }> {
    const h = await this.redis.hgetall(this.key);
    const hits = Number(h.hits ?? 0);
    const misses = Number(h.misses ?? 0);
    return { hits, misses, since: h.since ?? null, hitRate: hits + misses ? hits / (hits + misses) : null };
  }
}
