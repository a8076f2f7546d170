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

/**
 * Deletes entries not used within `olderThanMs` (all entries when omitted), optionally of one model key; their usage rows go with them (ON DELETE CASCADE).
 *
 * The usage rows are locked first, in key order, as a hit locks them
 * (touchCachedHashes): a bare DELETE locks the entries in its scan's order and
 * its cascade then takes their usage rows in that order, so a hit holding one
 * and waiting for another deadlocked with it (cacheMaintenance.test.ts). An
 * entry used while the clear waited no longer matches `olderThanMs` and stays.
 */
export async function clearCache(db: pg.Pool, opts: { olderThanMs?: number; modelKey?: string }): Promise<number> {
  const { rowCount } = await db.query(
    `WITH doomed AS (
       SELECT model_key, text_hash FROM kdb_embedding_cache_usage
        WHERE ($2::text IS NULL OR model_key = $2)
          AND ($1::bigint IS NULL OR last_used_at < now() - make_interval(secs => $1::bigint / 1000.0))
        ORDER BY model_key, text_hash
          FOR UPDATE)
     DELETE FROM kdb_embedding_cache c USING doomed d WHERE c.model_key = d.model_key AND c.text_hash = d.text_hash`,
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
    // The least recently used, then locked in key order as clearCache does.
    const { rowCount } = await db.query(
      `WITH lru AS (
         SELECT model_key, text_hash FROM kdb_embedding_cache_usage ORDER BY last_used_at ASC
          LIMIT GREATEST((SELECT count(*) FROM kdb_embedding_cache_usage) - $1, 0)),
       doomed AS (
         SELECT u.model_key, u.text_hash FROM kdb_embedding_cache_usage u JOIN lru USING (model_key, text_hash)
          ORDER BY u.model_key, u.text_hash
            FOR UPDATE OF u)
       DELETE FROM kdb_embedding_cache c USING doomed d WHERE c.model_key = d.model_key AND c.text_hash = d.text_hash`,
      [opts.maxEntries],
    );
    bySize = rowCount ?? 0;
  }
  return { byAge, bySize };
}
