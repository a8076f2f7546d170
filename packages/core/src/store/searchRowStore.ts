import type pg from 'pg';
import { lockSpaceShared, vectorTable } from './embeddingSpaceStore.js';
import { withTransaction } from './withTransaction.js';
import type { DocNumbers } from './keywordIndex.js';

/**
 * The search rows (`kdb_search`, one per record: composed text, its hash,
 * the active space's embedding state) and the vector rows of each embedding
 * space (`kdb_vectors_<id>`) as the write and state paths see them. Every
 * statement of those paths on these tables lives here; the search retrievers'
 * read statements live in search/, the segment builds' in segments/, and the
 * document lengths are written by the keyword index (keywordIndex.ts).
 */

import type { EmbeddingState as SearchStatus, EmbeddingCounts as EntityEmbeddingStatus } from '@kameleondb/schemas';
export type { SearchStatus, EntityEmbeddingStatus };

/** The space a statement reads or writes vectors of: its id names its table, its model key its cache entries. */
export interface VectorSpaceRef {
  id: number;
  modelKey: string;
}

/** A space that may not exist yet (a dry run for a new one): id null, every row needs embedding. */
export interface PlannedSpaceRef {
  id: number | null;
  modelKey: string;
}

/**
 * The rule "a row needs embedding in space `spaceId`": the space's table has
 * no vector row (record_id, chunk 0) computed from the row's current text;
 * in the active space, a pending row needs work too (its status says so:
 * a text changed and changed back still has to become ready). The one SQL
 * text of that rule: `row` is the kdb_search alias (written by this
 * module's statements, never from input), the table name comes from the
 * integer id (vectorTable).
 */
function needsEmbedding(row: string, spaceId: number): string {
  const t = vectorTable(spaceId);
  return `(NOT EXISTS (SELECT 1 FROM ${t} nv WHERE nv.record_id = ${row}.record_id AND nv.chunk = 0 AND nv.embedded_hash = ${row}.content_hash)
    OR (${row}.status = 'pending' AND EXISTS (SELECT 1 FROM kdb_embedding_spaces nsp WHERE nsp.id = ${spaceId} AND nsp.state = 'active')))`;
}

/**
 * The rows a reindex run covers, for statements whose parameters are
 * ($1 model key, $2 entity or null for all, $3 force): all of the scope when
 * forced, else those needing embedding in the space.
 */
const runScope = (spaceId: number | null) => `($2::text IS NULL OR s.entity = $2) AND ($3 OR ${spaceId === null ? 'true' : needsEmbedding('s', spaceId)})`;

/**
 * A `vector_seq` value of a space's vector table (a bigint, kept as its
 * decimal string). Each vector write (writeRowVectors) takes the next value
 * of the sequence `kdb_vector_seq` (shared by the spaces), so the seq orders
 * a space's rows by when their current vector was written. segments/ seals
 * ranges of it into HNSW indexes of their own (partial indexes `WHERE
 * vector_seq BETWEEN lo AND hi`); search scans the rows above the space's
 * last sealed seq (the hot segment) exactly.
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
  /** Set when the rows' postings go into blocks (KeywordIndexWriter.number). */
  blocks?: DocNumbers | null;
}

/** What insertSearchRows wrote: the rows left pending (they need embed jobs) and the cache entries that gave the others their vector. */
export interface InsertedSearchRows {
  /** Ids of the rows left `pending`, in the order given. */
  pending: string[];
  /** Distinct texts whose vector came from the embedding cache. */
  cachedTexts: number;
}

/**
 * Inserts the search rows of new records of `entity` (in the transaction
 * that inserts the records). With `cached`, the active space, locked shared
 * by the caller's transaction (lockActiveSpaceShared), every row whose text
 * the embedding cache holds for that space's model key gets its vector in
 * the same statement and is inserted `ready`: the one place besides
 * writeRowVectors that puts a vector into a space. The cache probe and the
 * copy are one statement, so a concurrent `cache clear` either comes after
 * (the vector is copied) or before (the row stays pending and is embedded);
 * an entry cannot vanish between a lookup and the write that reads it. Each
 * vector takes the next `vector_seq`, as in writeRowVectors: the rows land in
 * the hot segment. The other rows are inserted `pending`.
 */
export async function insertSearchRows(client: pg.ClientBase, entity: string, rows: NewSearchRows, cached?: VectorSpaceRef | null): Promise<InsertedSearchRows> {
  const b = rows.blocks ?? null;
  const values = [rows.ids, entity, rows.contents, rows.hashes, rows.lengths, b?.docNos ?? null, b?.docKey ?? null, b?.docTerms ?? null];
  if (!cached) {
    await client.query(
      `INSERT INTO kdb_search (record_id, entity, content, content_hash, doc_len, doc_no, doc_key, doc_terms)
       SELECT t.id, $2, t.content, t.hash, t.len, d.no, CASE WHEN d.no IS NOT NULL THEN $7::text END, d.terms
         FROM unnest($1::uuid[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS t(id, content, hash, len, i)
         LEFT JOIN unnest($6::bigint[], $8::text[]) WITH ORDINALITY AS d(no, terms, i) ON d.i = t.i`,
      values,
    );
    return { pending: [...rows.ids], cachedTexts: 0 };
  }
  // The probe is one primary-key lookup per row (LATERAL with LIMIT 1, as in
  // writeRowVectors); an empty text is never embedded, so it never has a vector.
  const { rows: out } = await client.query<{ pending: string[] | null; cached: string }>(
    `WITH w AS (
       INSERT INTO ${vectorTable(cached.id)} (record_id, chunk, entity, embedded_hash, embedding, vector_seq, updated_at)
       SELECT t.id, 0, $2, c.text_hash, c.embedding, nextval('kdb_vector_seq'), clock_timestamp()
         FROM unnest($1::uuid[], $3::text[], $4::text[]) AS t(id, content, hash)
         JOIN LATERAL (SELECT text_hash, embedding FROM kdb_embedding_cache WHERE model_key = $9 AND text_hash = t.hash LIMIT 1) c ON true
        WHERE t.content <> ''
       RETURNING record_id, embedded_hash),
     s AS (
       INSERT INTO kdb_search (record_id, entity, content, content_hash, doc_len, status, doc_no, doc_key, doc_terms)
       SELECT t.id, $2, t.content, t.hash, t.len, CASE WHEN w.record_id IS NULL THEN 'pending' ELSE 'ready' END,
              d.no, CASE WHEN d.no IS NOT NULL THEN $7::text END, d.terms
         FROM unnest($1::uuid[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS t(id, content, hash, len, i)
         LEFT JOIN unnest($6::bigint[], $8::text[]) WITH ORDINALITY AS d(no, terms, i) ON d.i = t.i
         LEFT JOIN w ON w.record_id = t.id
       RETURNING record_id, status)
     SELECT (SELECT array_agg(record_id) FROM s WHERE status = 'pending') AS pending,
            (SELECT count(DISTINCT embedded_hash) FROM w) AS cached`,
    [...values, cached.modelKey],
  );
  const pending = new Set(out[0]!.pending ?? []);
  return { pending: rows.ids.filter((id) => pending.has(id)), cachedTexts: Number(out[0]!.cached) };
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
 * Rows of `ids` that still need a vector in `space` (needsEmbedding).
 * Rows done already are skipped, so a job delivered twice costs nothing.
 */
export async function selectRowsNeedingWork(
  db: pg.Pool | pg.ClientBase,
  ids: readonly string[],
  space: VectorSpaceRef,
  /** Ids taken whatever their state (a forced reindex). */
  forceIds: readonly string[] = [],
): Promise<RowToEmbed[]> {
  const { rows } = await db.query<RowToEmbed>(
    `SELECT s.record_id, s.content, s.content_hash FROM kdb_search s
      WHERE s.record_id = ANY($1::uuid[]) AND (${needsEmbedding('s', space.id)} OR s.record_id = ANY($2::uuid[]))`,
    [ids, forceIds],
  );
  return rows;
}

/** The ids among `ids` whose rows need a vector in `space` (needsEmbedding). */
export async function idsNeedingWork(db: pg.Pool | pg.ClientBase, ids: readonly string[], space: VectorSpaceRef): Promise<string[]> {
  const { rows } = await db.query<{ record_id: string }>(
    `SELECT s.record_id FROM kdb_search s WHERE s.record_id = ANY($1::uuid[]) AND ${needsEmbedding('s', space.id)}`,
    [ids],
  );
  return rows.map((r) => r.record_id);
}

/**
 * Locks the search rows of `ids` (in id order, so two writers of
 * overlapping batches cannot deadlock) holding the given texts when
 * `hashes` is passed. The SQL of a CTE named `s0`, with $1 the ids (and $5
 * the hashes).
 */
const lockedRows = (withHashes: boolean) => `s0 AS (
       SELECT s.record_id, s.entity, s.content_hash FROM kdb_search s
        ${withHashes ? 'JOIN unnest($1::uuid[], $5::text[]) AS t(id, hash) ON s.record_id = t.id AND s.content_hash = t.hash' : 'WHERE s.record_id = ANY($1::uuid[])'}
        ORDER BY s.record_id FOR NO KEY UPDATE OF s)`;

/**
 * Writes vectors from the embedding cache into `space`'s vector table: the
 * one statement that puts a vector into a space. It first locks the space's
 * row, shared (lockSpaceShared: a switch of the active space waits for it,
 * or it sees the switch), then the search rows, and reads each row's CURRENT
 * content hash under that lock: a vector computed from an older text has an
 * older hash and matches nothing once a PATCH changed the row, and a PATCH
 * arriving meanwhile waits for this commit, then sends the row back to
 * pending with its new text. In the active space the rows become ready in
 * the same statement.
 *
 * Each written vector takes the next `vector_seq` (VectorSeq): the row
 * leaves whatever sealed segment covered its old seq (the partial index's
 * predicate no longer matches it) and lands in the hot segment, which search
 * scans exactly until segments/SegmentManager.ts seals it. So this path
 * makes no HNSW insert; the graphs are built in bulk, in seq order.
 * Returns how many rows received a vector or became ready.
 */
export async function writeRowVectors(
  pool: pg.Pool,
  ids: readonly string[],
  space: VectorSpaceRef,
  /** Forced ids are rewritten too, unless they already hold that exact vector (no index churn for nothing). */
  forceIds: readonly string[] = [],
): Promise<number> {
  if (ids.length === 0) return 0;
  const t = vectorTable(space.id);
  return withTransaction(pool, async (client) => {
    const state = await lockSpaceShared(client, space.id);
    // A space dropped meanwhile has no table left to write.
    if (state === null) return 0;
    // clock_timestamp(): the time of the write itself, not of the transaction start.
    // The cache is probed once per row through its primary key (LATERAL with
    // LIMIT 1 keeps the planner from turning it into a hash join that reads
    // the whole cache table for every batch).
    const { rows } = await client.query<{ n: string }>(
      `WITH ${lockedRows(false)},
       v AS (SELECT s0.record_id, s0.entity, c.text_hash, c.embedding FROM s0
               JOIN LATERAL (SELECT text_hash, embedding FROM kdb_embedding_cache
                              WHERE model_key = $2 AND text_hash = s0.content_hash LIMIT 1) c ON true),
       w AS (INSERT INTO ${t} AS x (record_id, chunk, entity, embedded_hash, embedding, vector_seq, updated_at)
             SELECT record_id, 0, entity, text_hash, embedding, nextval('kdb_vector_seq'), clock_timestamp() FROM v
             ON CONFLICT (record_id, chunk) DO UPDATE
                SET embedded_hash = EXCLUDED.embedded_hash, embedding = EXCLUDED.embedding,
                    vector_seq = EXCLUDED.vector_seq, updated_at = EXCLUDED.updated_at
              WHERE x.embedded_hash IS DISTINCT FROM EXCLUDED.embedded_hash OR x.embedding IS NULL
                 OR (x.record_id = ANY($3::uuid[]) AND x.embedding IS DISTINCT FROM EXCLUDED.embedding)
             RETURNING x.record_id),
       r AS (UPDATE kdb_search s SET status = 'ready', error = NULL, updated_at = clock_timestamp()
               FROM v WHERE $4 AND s.record_id = v.record_id
                AND (s.status <> 'ready' OR s.error IS NOT NULL OR s.record_id IN (SELECT record_id FROM w))
             RETURNING s.record_id)
       SELECT count(*) AS n FROM (SELECT record_id FROM w UNION SELECT record_id FROM r) u`,
      [ids, space.modelKey, forceIds, state === 'active'],
    );
    return Number(rows[0]!.n);
  });
}

/**
 * Marks rows failed in `space` with a reason, only while they still hold
 * the text that failed (`hashes`): a row edited since keeps its pending
 * state and its job. The status is the active space's: in a space being
 * built a failure leaves the row without a vector (the switch makes it
 * pending, and it is embedded again). With `settled`, the text counts as
 * done in the space (empty text: there is nothing to embed, and a reindex
 * should not pick it up again): the space holds its hash without a vector.
 */
export async function markRowsFailed(
  pool: pg.Pool,
  space: VectorSpaceRef,
  ids: readonly string[],
  hashes: readonly string[],
  error: string,
  opts: { settled?: boolean } = {},
): Promise<number> {
  if (ids.length === 0) return 0;
  const t = vectorTable(space.id);
  return withTransaction(pool, async (client) => {
    const state = await lockSpaceShared(client, space.id);
    if (state === null) return 0;
    const { rows } = await client.query<{ n: string }>(
      `WITH ${lockedRows(true)},
       w AS (INSERT INTO ${t} AS x (record_id, chunk, entity, embedded_hash, embedding, vector_seq, updated_at)
             SELECT record_id, 0, entity, content_hash, NULL, NULL, now() FROM s0 WHERE $2
             ON CONFLICT (record_id, chunk) DO UPDATE
                SET embedded_hash = EXCLUDED.embedded_hash, embedding = NULL, vector_seq = NULL, updated_at = EXCLUDED.updated_at
             RETURNING x.record_id),
       r AS (UPDATE kdb_search s SET status = 'failed', error = $3, updated_at = now()
               FROM s0 WHERE $4 AND s.record_id = s0.record_id RETURNING s.record_id)
       SELECT (SELECT count(*) FROM s0) AS n, (SELECT count(*) FROM w) + (SELECT count(*) FROM r) AS done`,
      [ids, opts.settled ?? false, error, state === 'active', hashes],
    );
    return Number(rows[0]!.n);
  });
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


export async function embeddingStatusByEntity(db: pg.Pool, space: VectorSpaceRef | null): Promise<EntityEmbeddingStatus[]> {
  // No space yet (a database nothing has started on): every ready row is counted stale.
  const needs = space ? needsEmbedding('s', space.id) : 'true';
  const { rows } = await db.query<{ entity: string; total: string; indexed: string; pending: string; failed: string; stale: string }>(
    `SELECT e.name AS entity,
            count(s.record_id) AS total,
            count(*) FILTER (WHERE s.status = 'ready' AND NOT ${needs}) AS indexed,
            count(*) FILTER (WHERE s.status = 'pending') AS pending,
            count(*) FILTER (WHERE s.status = 'failed') AS failed,
            count(*) FILTER (WHERE s.status = 'ready' AND ${needs}) AS stale
       FROM kdb_entities e LEFT JOIN kdb_search s ON s.entity = e.name
      GROUP BY e.name ORDER BY e.name`,
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
export async function countRunRows(db: pg.Pool | pg.ClientBase, space: VectorSpaceRef, entity: string | null, force: boolean): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM kdb_search s WHERE $1::text IS NOT NULL AND ${runScope(space.id)}`, [
    space.modelKey,
    entity,
    force,
  ]);
  return Number(rows[0]!.n);
}

/**
 * One page of rows in record-id order after `after` (null: from the start),
 * of one entity or all, each with whether it needs embedding in `space`.
 * Keyset pagination over the primary key (all) or (entity, record_id).
 */
export async function pageRows(
  db: pg.Pool | pg.ClientBase,
  opts: { space: VectorSpaceRef; entity: string | null; after: string | null; limit: number; upTo?: string | null },
): Promise<{ record_id: string; needs: boolean }[]> {
  const needs = needsEmbedding('s', opts.space.id);
  const { rows } =
    opts.entity === null
      ? await db.query<{ record_id: string; needs: boolean }>(
          `SELECT s.record_id, ${needs} AS needs FROM kdb_search s
            WHERE ($1::uuid IS NULL OR s.record_id > $1) AND ($3::uuid IS NULL OR s.record_id <= $3) ORDER BY s.record_id LIMIT $2`,
          [opts.after, opts.limit, opts.upTo ?? null],
        )
      : await db.query<{ record_id: string; needs: boolean }>(
          `SELECT s.record_id, ${needs} AS needs FROM kdb_search s
            WHERE s.entity = $3 AND ($1::uuid IS NULL OR s.record_id > $1) AND ($4::uuid IS NULL OR s.record_id <= $4) ORDER BY s.record_id LIMIT $2`,
          [opts.after, opts.limit, opts.entity, opts.upTo ?? null],
        );
  return rows;
}

/** Rows of a reindex run's scope (RUN_SCOPE), their distinct non-empty texts, and how many of those are cached. */
export async function summarizeRunRows(
  db: pg.Pool | pg.ClientBase,
  space: PlannedSpaceRef,
  entity: string | null,
  force: boolean,
): Promise<{ rows: number; distinctTexts: number; cachedTexts: number }> {
  const scope = runScope(space.id);
  const { rows } = await db.query<{ rows: string; distinct: string; cached: string }>(
    `WITH t AS (SELECT s.content_hash FROM kdb_search s WHERE ${scope} AND s.content <> ''),
          d AS (SELECT DISTINCT content_hash FROM t)
     SELECT (SELECT count(*) FROM kdb_search s WHERE ${scope}) AS rows,
            (SELECT count(*) FROM d) AS distinct,
            (SELECT count(*) FROM d JOIN kdb_embedding_cache c ON c.model_key = $1 AND c.text_hash = d.content_hash) AS cached`,
    [space.modelKey, entity, force],
  );
  const r = rows[0]!;
  return { rows: Number(r.rows), distinctTexts: Number(r.distinct), cachedTexts: Number(r.cached) };
}

/** The distinct non-empty texts of a reindex run's scope that the embedding cache lacks for the space's model key. */
export async function uncachedRunTexts(db: pg.Pool | pg.ClientBase, space: PlannedSpaceRef, entity: string | null, force: boolean): Promise<string[]> {
  const { rows } = await db.query<{ content: string }>(
    `SELECT DISTINCT ON (s.content_hash) s.content FROM kdb_search s
      WHERE ${runScope(space.id)} AND s.content <> ''
        AND NOT EXISTS (SELECT 1 FROM kdb_embedding_cache c WHERE c.model_key = $1 AND c.text_hash = s.content_hash)`,
    [space.modelKey, entity, force],
  );
  return rows.map((r) => r.content);
}

/** Rows of the space holding a vector (or a settled empty text) of their current text, and all rows. */
export async function spaceCoverage(db: pg.Pool | pg.ClientBase, spaceId: number): Promise<{ embedded: number; total: number }> {
  const { rows } = await db.query<{ embedded: string; total: string }>(
    `SELECT (SELECT count(*) FROM kdb_search s JOIN ${vectorTable(spaceId)} v ON v.record_id = s.record_id AND v.chunk = 0 AND v.embedded_hash = s.content_hash) AS embedded,
            (SELECT count(*) FROM kdb_search) AS total`,
  );
  return { embedded: Number(rows[0]!.embedded), total: Number(rows[0]!.total) };
}

/**
 * Recomputes every row's status from space `spaceId`, which the caller's
 * transaction has just made active: a row with a vector of its current text
 * is ready, one whose empty text is settled there failed with `emptyError`,
 * any other pending (the sweeper enqueues it). Only rows that change are
 * written.
 */
export async function recomputeStatuses(client: pg.ClientBase, spaceId: number, emptyError: string): Promise<number> {
  const { rowCount } = await client.query(
    `UPDATE kdb_search s SET status = n.status, error = n.error, updated_at = now()
       FROM (SELECT s1.record_id,
                    CASE WHEN v.record_id IS NULL THEN 'pending' WHEN v.embedding IS NULL THEN 'failed' ELSE 'ready' END AS status,
                    CASE WHEN v.record_id IS NOT NULL AND v.embedding IS NULL THEN $1 END AS error
               FROM kdb_search s1
               LEFT JOIN ${vectorTable(spaceId)} v ON v.record_id = s1.record_id AND v.chunk = 0 AND v.embedded_hash = s1.content_hash) n
      WHERE s.record_id = n.record_id AND (s.status IS DISTINCT FROM n.status OR s.error IS DISTINCT FROM n.error)`,
    [emptyError],
  );
  return rowCount ?? 0;
}

/** Up to `limit` ids of rows needing a vector in `space` (needsEmbedding), and how many need one in all. */
export async function rowsNeedingWork(db: pg.Pool | pg.ClientBase, space: VectorSpaceRef, limit: number): Promise<{ count: number; ids: string[] }> {
  const needs = needsEmbedding('s', space.id);
  const [count, ids] = await Promise.all([
    db.query<{ n: string }>(`SELECT count(*) AS n FROM kdb_search s WHERE ${needs}`),
    db.query<{ record_id: string }>(`SELECT s.record_id FROM kdb_search s WHERE ${needs} ORDER BY s.record_id LIMIT $1`, [limit]),
  ]);
  return { count: Number(count.rows[0]!.n), ids: ids.rows.map((r) => r.record_id) };
}

/** The highest record id of the search rows (null when there are none). */
export async function lastRowId(db: pg.Pool | pg.ClientBase): Promise<string | null> {
  const { rows } = await db.query<{ id: string | null }>('SELECT max(record_id::text)::uuid AS id FROM kdb_search');
  return rows[0]?.id ?? null;
}
