import type pg from 'pg';

/**
 * The search rows (`kdb_search`, one per record: composed text, its hash,
 * embedding state and vector) as the write and state paths see them. Every
 * statement of those paths on this table lives here; the search retrievers'
 * read statements live in search/, the segment builds' in segments/, and the
 * document lengths are written by the keyword index (keywordIndex.ts).
 */

export type SearchStatus = 'pending' | 'ready' | 'failed';

/**
 * The rule "a row needs embedding for a model key": it is pending, or its
 * vector was never written, was computed from another text, or by another
 * model. The one SQL text of that rule: `row` is the table alias, `modelKey`
 * the placeholder holding the model key (both written by this module's
 * statements, never from input).
 */
function needsEmbedding(row: string, modelKey: string): string {
  return `(${row}.status = 'pending' OR ${row}.embedded_hash IS DISTINCT FROM ${row}.content_hash OR ${row}.model IS DISTINCT FROM ${modelKey})`;
}

/**
 * The rows a reindex run covers, for statements whose parameters are
 * ($1 model key, $2 entity or null for all, $3 force): all of the scope when
 * forced, else those needing embedding.
 */
const RUN_SCOPE = `($2::text IS NULL OR s.entity = $2) AND ($3 OR ${needsEmbedding('s', '$1')})`;

/**
 * A `kdb_search.vector_seq` value (a bigint, kept as its decimal string).
 * Each vector write (writeRowVectors) takes the next value of the sequence
 * `kdb_vector_seq`, so the seq orders rows by when their current vector was
 * written. segments/ seals ranges of it into HNSW indexes of their own
 * (partial indexes `WHERE vector_seq BETWEEN lo AND hi`); search scans the
 * rows above the last sealed seq (the hot segment) exactly.
 */
export type VectorSeq = string;

export interface RowToEmbed {
  record_id: string;
  content: string;
  content_hash: string;
}

/** The columns of new search rows, one array entry per record. */
export interface NewSearchRows {
  ids: readonly string[];
  contents: readonly string[];
  hashes: readonly string[];
  /** Terms of each text (the keyword index's document length). */
  lengths: readonly number[];
}

/** Inserts pending search rows of new records of `entity` (in the transaction that inserts the records). */
export async function insertSearchRows(client: pg.ClientBase, entity: string, rows: NewSearchRows): Promise<void> {
  await client.query(
    `INSERT INTO kdb_search (record_id, entity, content, content_hash, doc_len)
     SELECT id, $2, content, hash, len FROM unnest($1::uuid[], $3::text[], $4::text[], $5::int[]) AS t(id, content, hash, len)`,
    [rows.ids, entity, rows.contents, rows.hashes, rows.lengths],
  );
}

/**
 * Sets new texts of rows and sends them back to `pending` (their old vector
 * stays searchable until the new one lands). Rows already holding that text
 * are left alone. Returns how many changed.
 */
export async function setRowContent(
  client: pg.ClientBase,
  rows: readonly { id: string; content: string; hash: string }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  // clock_timestamp(): the time of the write itself, not of the transaction start.
  const { rowCount } = await client.query(
    `UPDATE kdb_search s SET content = t.content, content_hash = t.hash, status = 'pending', error = NULL, updated_at = clock_timestamp()
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(id, content, hash)
      WHERE s.record_id = t.id AND s.content_hash IS DISTINCT FROM t.hash`,
    [rows.map((r) => r.id), rows.map((r) => r.content), rows.map((r) => r.hash)],
  );
  return rowCount ?? 0;
}

/**
 * Rows of `ids` that still need a vector for `modelKey` (needsEmbedding).
 * Ready rows are skipped, so a job delivered twice costs nothing.
 */
export async function selectRowsNeedingWork(
  db: pg.Pool | pg.ClientBase,
  ids: readonly string[],
  modelKey: string,
  /** Ids taken whatever their state (a forced reindex). */
  forceIds: readonly string[] = [],
): Promise<RowToEmbed[]> {
  const { rows } = await db.query<RowToEmbed>(
    `SELECT s.record_id, s.content, s.content_hash FROM kdb_search s
      WHERE s.record_id = ANY($1::uuid[]) AND (${needsEmbedding('s', '$2')} OR s.record_id = ANY($3::uuid[]))`,
    [ids, modelKey, forceIds],
  );
  return rows;
}

/** The ids among `ids` whose rows need a vector for `modelKey` (needsEmbedding). */
export async function idsNeedingWork(db: pg.Pool | pg.ClientBase, ids: readonly string[], modelKey: string): Promise<string[]> {
  const { rows } = await db.query<{ record_id: string }>(
    `SELECT s.record_id FROM kdb_search s WHERE s.record_id = ANY($2::uuid[]) AND ${needsEmbedding('s', '$1')}`,
    [modelKey, ids],
  );
  return rows.map((r) => r.record_id);
}

/**
 * Writes vectors from the embedding cache into the rows: the one statement
 * that puts a vector into a search row. It joins on each row's CURRENT
 * content hash. That join is the guard against races: a vector computed
 * from an older text has an older hash and matches nothing once a PATCH
 * changed the row (READ COMMITTED re-checks the condition on the newest row
 * version).
 *
 * Each written vector takes the next `vector_seq` (VectorSeq): the row
 * leaves whatever sealed segment covered its old seq (the partial index's
 * predicate no longer matches it) and lands in the hot segment, which search
 * scans exactly until segments/SegmentManager.ts seals it. So this path
 * makes no HNSW insert; the graphs are built in bulk, in seq order.
 */
export async function writeRowVectors(
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
        AND (${needsEmbedding('s', '$2')}
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

/** The ids among `ids` whose rows are still pending (missing ids are not returned). */
export async function pendingIds(db: pg.Pool | pg.ClientBase, ids: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ record_id: string }>(
    `SELECT record_id FROM kdb_search WHERE record_id = ANY($1::uuid[]) AND status = 'pending'`,
    [ids],
  );
  return rows.map((r) => r.record_id);
}

/**
 * Claims up to `limit` rows pending for longer than `olderThanMs`, oldest
 * first, by giving them a new `updated_at`: concurrent claimers skip each
 * other's rows (SKIP LOCKED) and never take the same ones. Returns their ids.
 */
export async function claimStrandedRows(db: pg.Pool | pg.ClientBase, olderThanMs: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ record_id: string }>(
    `WITH stranded AS (
       SELECT record_id FROM kdb_search
        WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
        ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE kdb_search s SET updated_at = now() FROM stranded WHERE s.record_id = stranded.record_id
     RETURNING s.record_id`,
    [olderThanMs, limit],
  );
  return rows.map((r) => r.record_id);
}

export interface StatusCounts {
  pending: number;
  ready: number;
  failed: number;
}

/** Status counts of the search rows of the given records (missing ids are not counted). */
export async function countStatuses(db: pg.Pool, ids: readonly string[]): Promise<StatusCounts> {
  const { rows } = await db.query<{ status: SearchStatus; n: string }>(
    'SELECT status, count(*) AS n FROM kdb_search WHERE record_id = ANY($1::uuid[]) GROUP BY status',
    [ids],
  );
  const counts: StatusCounts = { pending: 0, ready: 0, failed: 0 };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}

export interface EntityEmbeddingStatus {
  entity: string;
  total: number;
  /** Ready with a vector of the current model key. */
  indexed: number;
  pending: number;
  failed: number;
  /** Ready, but embedded by another model key or from an older text: a reindex redoes them. */
  stale: number;
}

export async function embeddingStatusByEntity(db: pg.Pool, modelKey: string): Promise<EntityEmbeddingStatus[]> {
  const needs = needsEmbedding('s', '$1');
  const { rows } = await db.query<{ entity: string; total: string; indexed: string; pending: string; failed: string; stale: string }>(
    `SELECT e.name AS entity,
            count(s.record_id) AS total,
            count(*) FILTER (WHERE s.status = 'ready' AND NOT ${needs}) AS indexed,
            count(*) FILTER (WHERE s.status = 'pending') AS pending,
            count(*) FILTER (WHERE s.status = 'failed') AS failed,
            count(*) FILTER (WHERE s.status = 'ready' AND ${needs}) AS stale
       FROM kdb_entities e LEFT JOIN kdb_search s ON s.entity = e.name
      GROUP BY e.name ORDER BY e.name`,
    [modelKey],
  );
  return rows.map((r) => ({
    entity: r.entity,
    total: Number(r.total),
    indexed: Number(r.indexed),
    pending: Number(r.pending),
    failed: Number(r.failed),
    stale: Number(r.stale),
  }));
}

/** Rows a reindex run would process now: all of the scope when forced, else those needing embedding. */
export async function countRunRows(db: pg.Pool | pg.ClientBase, modelKey: string, entity: string | null, force: boolean): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM kdb_search s WHERE ${RUN_SCOPE}`, [modelKey, entity, force]);
  return Number(rows[0]!.n);
}

/**
 * One page of rows in record-id order after `after` (null: from the start),
 * of one entity or all, each with whether it needs embedding for `modelKey`.
 * Keyset pagination over the primary key (all) or (entity, record_id).
 */
export async function pageRows(
  db: pg.Pool | pg.ClientBase,
  opts: { modelKey: string; entity: string | null; after: string | null; limit: number },
): Promise<{ record_id: string; needs: boolean }[]> {
  const needs = needsEmbedding('s', '$1');
  const { rows } =
    opts.entity === null
      ? await db.query<{ record_id: string; needs: boolean }>(
          `SELECT s.record_id, ${needs} AS needs FROM kdb_search s
            WHERE ($2::uuid IS NULL OR s.record_id > $2) ORDER BY s.record_id LIMIT $3`,
          [opts.modelKey, opts.after, opts.limit],
        )
      : await db.query<{ record_id: string; needs: boolean }>(
          `SELECT s.record_id, ${needs} AS needs FROM kdb_search s
            WHERE s.entity = $4 AND ($2::uuid IS NULL OR s.record_id > $2) ORDER BY s.record_id LIMIT $3`,
          [opts.modelKey, opts.after, opts.limit, opts.entity],
        );
  return rows;
}

/** Rows of a reindex run's scope (RUN_SCOPE), their distinct non-empty texts, and how many of those are cached. */
export async function summarizeRunRows(
  db: pg.Pool | pg.ClientBase,
  modelKey: string,
  entity: string | null,
  force: boolean,
): Promise<{ rows: number; distinctTexts: number; cachedTexts: number }> {
  const { rows } = await db.query<{ rows: string; distinct: string; cached: string }>(
    `WITH t AS (SELECT s.content_hash FROM kdb_search s WHERE ${RUN_SCOPE} AND s.content <> ''),
          d AS (SELECT DISTINCT content_hash FROM t)
     SELECT (SELECT count(*) FROM kdb_search s WHERE ${RUN_SCOPE}) AS rows,
            (SELECT count(*) FROM d) AS distinct,
            (SELECT count(*) FROM d JOIN kdb_embedding_cache c ON c.model_key = $1 AND c.text_hash = d.content_hash) AS cached`,
    [modelKey, entity, force],
  );
  const r = rows[0]!;
  return { rows: Number(r.rows), distinctTexts: Number(r.distinct), cachedTexts: Number(r.cached) };
}

/** The distinct non-empty texts of a reindex run's scope that the embedding cache lacks for `modelKey`. */
export async function uncachedRunTexts(db: pg.Pool | pg.ClientBase, modelKey: string, entity: string | null, force: boolean): Promise<string[]> {
  const { rows } = await db.query<{ content: string }>(
    `SELECT DISTINCT ON (s.content_hash) s.content FROM kdb_search s
      WHERE ${RUN_SCOPE} AND s.content <> ''
        AND NOT EXISTS (SELECT 1 FROM kdb_embedding_cache c WHERE c.model_key = $1 AND c.text_hash = s.content_hash)`,
    [modelKey, entity, force],
  );
  return rows.map((r) => r.content);
}
