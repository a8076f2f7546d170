import type pg from 'pg';

export interface RowToEmbed {
  record_id: string;
  content: string;
  content_hash: string;
}

/**
 * Rows of `ids` that still need a vector for `modelKey`: pending, never
 * embedded, embedded from another text, or by another model. Ready rows are
 * skipped, so a job delivered twice costs nothing.
 */
export async function selectRowsNeedingWork(
  db: pg.Pool | pg.ClientBase,
  ids: readonly string[],
  modelKey: string,
  /** Ids taken whatever their state (a forced reindex). */
  forceIds: readonly string[] = [],
): Promise<RowToEmbed[]> {
  const { rows } = await db.query<RowToEmbed>(
    `SELECT record_id, content, content_hash FROM kdb_search
      WHERE record_id = ANY($1::uuid[])
        AND (status = 'pending' OR embedded_hash IS DISTINCT FROM content_hash OR model IS DISTINCT FROM $2
             OR record_id = ANY($3::uuid[]))`,
    [ids, modelKey, forceIds],
  );
  return rows;
}

/**
 * Copies vectors from the cache into the rows, joining on each row's CURRENT
 * content hash. That join is the guard against races: a vector computed from
 * an older text has an older hash and matches nothing once a PATCH changed
 * the row (READ COMMITTED re-checks the condition on the newest row version).
 * Each written vector takes the next `vector_seq`: it lands in the hot
 * segment (no HNSW insert on this path; see segments/SegmentManager.ts).
 */
export async function applyCachedVectors(
  client: pg.ClientBase | pg.Pool,
  ids: readonly string[],
  modelKey: string,
  /** Forced ids are rewritten too, unless they already hold that exact vector (no index churn for nothing). */
  forceIds: readonly string[] = [],
): Promise<number> {
  if (ids.length === 0) return 0;
  // clock_timestamp(): the time of the write itself, not of the transaction start.
  // The cache is probed once per row through its primary key (LATERAL with
  // LIMIT 1 keeps the planner from turning it into a hash join that reads
  // the whole cache table for every batch).
  const { rowCount } = await client.query(
    `UPDATE kdb_search s
        SET embedding = v.embedding, embedded_hash = v.text_hash, model = $2,
            vector_seq = nextval('kdb_vector_seq'),
            status = 'ready', error = NULL, updated_at = clock_timestamp()
       FROM (SELECT t.id, c.text_hash, c.embedding
               FROM unnest($1::uuid[]) AS t(id)
               JOIN kdb_search s0 ON s0.record_id = t.id
               JOIN LATERAL (SELECT text_hash, embedding FROM kdb_embedding_cache
                              WHERE model_key = $2 AND text_hash = s0.content_hash LIMIT 1) c ON true) v
      WHERE s.record_id = v.id AND s.content_hash = v.text_hash
        AND (s.embedded_hash IS DISTINCT FROM s.content_hash OR s.model IS DISTINCT FROM $2
             OR s.status = 'pending'
             OR (s.record_id = ANY($3::uuid[]) AND s.embedding IS DISTINCT FROM v.embedding))`,
    [ids, modelKey, forceIds],
  );
  return rowCount ?? 0;
}

/**
 * Marks rows failed with a reason, only while they still hold the text that
 * failed (`hashes`): a row edited since keeps its pending state and its job.
 * With `settled`, the text counts as done for this model (empty text: there
 * is nothing to embed, and a reindex should not pick it up again).
 */
export async function markRowsFailed(
  db: pg.ClientBase | pg.Pool,
  ids: readonly string[],
  hashes: readonly string[],
  error: string,
  opts: { settledFor?: string } = {},
): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE kdb_search s
        SET status = 'failed', error = $3, updated_at = now(),
            embedded_hash = CASE WHEN $4::text IS NULL THEN s.embedded_hash ELSE s.content_hash END,
            model = COALESCE($4::text, s.model),
            embedding = CASE WHEN $4::text IS NULL THEN s.embedding ELSE NULL END,
            vector_seq = CASE WHEN $4::text IS NULL THEN s.vector_seq ELSE NULL END
       FROM unnest($1::uuid[], $2::text[]) AS t(id, hash)
      WHERE s.record_id = t.id AND s.content_hash = t.hash`,
    [ids, hashes, error, opts.settledFor ?? null],
  );
  return rowCount ?? 0;
}
