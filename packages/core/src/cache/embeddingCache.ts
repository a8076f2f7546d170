import type pg from 'pg';
import { copyInto } from '../store/copyInto.js';

/**
 * Looks up which of `hashes` the cache holds for `modelKey` and records the
 * hits in the same statement: one write per batch, not one per text. The
 * hits go to the entries' usage rows (kdb_embedding_cache_usage, exactly one
 * per entry): the entries' own rows, vectors included, are not rewritten
 * (docs/decisions/cache-usage-table.md). The row locks it takes also keep a
 * concurrent `cache clear` from deleting an entry meanwhile (the delete
 * cascades to the usage row, and waits for it).
 *
 * The rows are locked in text_hash order before the update: a bare UPDATE
 * locks them in the order of its plan (index order for a small batch, heap
 * order for a scan of a large one), and two workers' batches over the same
 * texts through different plans deadlock (embeddingCache.test.ts;
 * docs/decisions/cache-writes-in-hash-order.md, with what the lock costs).
 */
export async function touchCachedHashes(db: pg.ClientBase | pg.Pool, modelKey: string, hashes: readonly string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.query<{ text_hash: string }>(
    `WITH locked AS (
       SELECT text_hash FROM kdb_embedding_cache_usage
        WHERE model_key = $1 AND text_hash = ANY($2::text[])
        ORDER BY text_hash FOR NO KEY UPDATE)
     UPDATE kdb_embedding_cache_usage u SET hits = u.hits + 1, last_used_at = now()
       FROM locked l
      WHERE u.model_key = $1 AND u.text_hash = l.text_hash
      RETURNING u.text_hash`,
    [modelKey, hashes],
  );
  return new Set(rows.map((r) => r.text_hash));
}

/**
 * Records one hit on the cache entry of each distinct text of the rows
 * `ids` (whose vectors were copied from the cache by the ingest transaction,
 * insertSearchRows), on their usage rows as touchCachedHashes does: after
 * that commit, so the ingest holds no lock on usage rows a worker or another
 * ingest also touches. An entry locked by
 * another writer at that moment (a worker touching it) is skipped, never
 * waited for: two statements locking overlapping entries in different
 * orders would deadlock, and that entry's last use is being refreshed
 * anyway. Returns the entries hit.
 */
export async function touchCachedRows(db: pg.ClientBase | pg.Pool, modelKey: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE kdb_embedding_cache_usage u SET hits = u.hits + 1, last_used_at = now()
       FROM (SELECT e.text_hash FROM kdb_embedding_cache_usage e
              WHERE e.model_key = $1 AND e.text_hash IN (SELECT content_hash FROM kdb_search WHERE record_id = ANY($2::uuid[]))
              FOR NO KEY UPDATE SKIP LOCKED) h
      WHERE u.model_key = $1 AND u.text_hash = h.text_hash`,
    [modelKey, ids],
  );
  return rowCount ?? 0;
}

export interface CacheEntry {
  hash: string;
  vector: Float32Array;
}

/**
 * Adds entries through a binary COPY into a per-session staging table, then
 * one INSERT … ON CONFLICT DO NOTHING: two workers embedding the same text at
 * once both succeed and the first vector wins (they are equal anyway).
 * Must run inside a transaction (the staging rows vanish at commit). Each
 * new entry gets its usage row (no hits, used now) in the same statement,
 * from the table's insert trigger (sql/000016_embedding_cache_usage.sql), so
 * every writer of entries keeps one usage row per entry.
 *
 * The rows go in in text_hash order: an insert waits on a row another open
 * transaction inserted, so two transactions inserting the same texts in
 * different orders each wait on the other (deadlock_detected, seen between
 * two workers embedding entities of equal documents; embeddingCache.test.ts).
 */
export async function insertCacheEntries(client: pg.ClientBase, modelKey: string, entries: readonly CacheEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS kdb_stage_vectors (text_hash text NOT NULL, embedding vector NOT NULL) ON COMMIT DELETE ROWS`,
  );
  await copyInto(client, 'kdb_stage_vectors', ['text_hash', 'embedding'], entries.map((e) => [e.hash, e.vector]));
  const { rowCount } = await client.query(
    `INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding)
     SELECT $1, text_hash, embedding FROM kdb_stage_vectors ORDER BY text_hash
     ON CONFLICT (model_key, text_hash) DO NOTHING`,
    [modelKey],
  );
  return rowCount ?? 0;
}

/** The cached vector of one text, if any (a read: a search's query vector counts no hit). */
export async function readCachedVector(db: pg.ClientBase | pg.Pool, modelKey: string, hash: string): Promise<number[] | undefined> {
  const { rows } = await db.query<{ embedding: number[] }>({
    name: 'kdb_query_vector',
    text: 'SELECT embedding FROM kdb_embedding_cache WHERE model_key = $1 AND text_hash = $2',
    values: [modelKey, hash],
  });
  return rows[0]?.embedding;
}
