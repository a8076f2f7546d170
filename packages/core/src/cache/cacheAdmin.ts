import type pg from 'pg';

export interface CacheModelStats {
  modelKey: string;
  entries: number;
  hits: number;
  oldestUse: string | null;
  newestUse: string | null;
}

export interface CacheSummary {
  entries: number;
  /** Tables (entries and their usage), TOAST and indexes on disk. */
  bytes: number;
  models: CacheModelStats[];
}

export async function cacheSummary(db: pg.Pool): Promise<CacheSummary> {
  const [size, models] = await Promise.all([
    db.query<{ bytes: string }>(
      `SELECT pg_total_relation_size('kdb_embedding_cache') + pg_total_relation_size('kdb_embedding_cache_usage') AS bytes`,
    ),
    db.query<{ model_key: string; entries: string; hits: string; oldest: Date | null; newest: Date | null }>(
      // One usage row per entry: counting them counts the entries.
      `SELECT model_key, count(*) AS entries, sum(hits) AS hits, min(last_used_at) AS oldest, max(last_used_at) AS newest
         FROM kdb_embedding_cache_usage GROUP BY model_key ORDER BY model_key`,
    ),
  ]);
  const list = models.rows.map((r) => ({
    modelKey: r.model_key,
    entries: Number(r.entries),
    hits: Number(r.hits),
    oldestUse: r.oldest?.toISOString() ?? null,
    newestUse: r.newest?.toISOString() ?? null,
  }));
  return { entries: list.reduce((n, m) => n + m.entries, 0), bytes: Number(size.rows[0]!.bytes), models: list };
}

/** Deletes entries not used within `olderThanMs` (all entries when omitted), optionally of one model key; their usage rows go with them (ON DELETE CASCADE). */
export async function clearCache(db: pg.Pool, opts: { olderThanMs?: number; modelKey?: string }): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM kdb_embedding_cache c
      WHERE ($2::text IS NULL OR c.model_key = $2)
        AND ($1::bigint IS NULL OR (c.model_key, c.text_hash) IN (
              SELECT model_key, text_hash FROM kdb_embedding_cache_usage
               WHERE last_used_at < now() - make_interval(secs => $1::bigint / 1000.0)))`,
    [opts.olderThanMs ?? null, opts.modelKey ?? null],
  );
  return rowCount ?? 0;
}

/**
 * Eviction for the maintenance job: entries unused for longer than
 * `maxAgeMs`, then the least recently used beyond `maxEntries`.
 */
export async function evictCache(db: pg.Pool, opts: { maxAgeMs?: number; maxEntries?: number }): Promise<{ byAge: number; bySize: number }> {
  const byAge = opts.maxAgeMs ? await clearCache(db, { olderThanMs: opts.maxAgeMs }) : 0;
  let bySize = 0;
  if (opts.maxEntries !== undefined) {
    const { rowCount } = await db.query(
      `DELETE FROM kdb_embedding_cache WHERE (model_key, text_hash) IN (
         SELECT model_key, text_hash FROM kdb_embedding_cache_usage ORDER BY last_used_at ASC
          LIMIT GREATEST((SELECT count(*) FROM kdb_embedding_cache_usage) - $1, 0))`,
      [opts.maxEntries],
    );
    bySize = rowCount ?? 0;
  }
  return { byAge, bySize };
}
