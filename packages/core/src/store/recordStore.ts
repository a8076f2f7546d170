import { v7 as uuidv7 } from 'uuid';
import type pg from 'pg';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Entity } from '../entities/entitySchema.js';
import { uniqueViolation } from '../entities/uniqueFieldIndex.js';
import { validateRecord } from '../entities/validateRecord.js';
import { composeContent } from '../content/composeContent.js';
import { withTransaction } from './withTransaction.js';
import { mapYielding } from '../util/mapYielding.js';
import { analyze, indexKeywords, type AnalyzedDoc } from './keywordIndex.js';
import { insertSearchRows, setRowContent, type SearchStatus } from './searchRowStore.js';

export interface StoredRecord {
  id: string;
  entity: string;
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  embedding: { status: SearchStatus; error: string | null; model: string | null; contentHash: string };
}

const INSERT_RECORDS = `
  INSERT INTO kdb_records (id, entity, data)
  SELECT id, $2, data FROM unnest($1::uuid[], $3::jsonb[]) AS t(id, data)`;

/**
 * Writes validated records and their pending search rows, and returns their
 * analyzed text for the keyword index (KeywordIndexWriter), which the caller
 * writes in the same transaction, for this chunk or for several at once.
 * Ids are UUIDv7 (time-ordered): consecutive records land side by side in
 * every index keyed by record id, instead of on random pages
 * (docs/decisions/ingest-ids-v7.md).
 */
export async function writeRecordChunk(
  client: pg.ClientBase,
  entity: Entity,
  records: readonly Record<string, unknown>[],
): Promise<{ ids: string[]; docs: AnalyzedDoc[] }> {
  // Prepared in slices (JSON, text hash, terms): searches served by the same process run in between.
  const prepared = await mapYielding(records, (r) => {
    const id = uuidv7();
    const content = composeContent(r, entity.embedFields);
    return { id, data: JSON.stringify(r), content, doc: analyze({ id, content: content.content }) };
  });
  const ids = prepared.map((p) => p.id);
  await client.query(INSERT_RECORDS, [ids, entity.name, prepared.map((p) => p.data)]);
  await insertSearchRows(client, entity.name, {
    ids,
    contents: prepared.map((p) => p.content.content),
    hashes: prepared.map((p) => p.content.hash),
    lengths: prepared.map((p) => p.doc.length),
  });
  return { ids, docs: prepared.map((p) => p.doc) };
}

interface RecordRow {
  id: string;
  entity: string;
  data: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  status: SearchStatus;
  error: string | null;
  model: string | null;
  content_hash: string;
}

/** The model key of the row's state: the active space's once it is no longer pending (vectors live per space, embeddingSpaceStore.ts). */
const MODEL_OF_ROW = `CASE WHEN s.status <> 'pending' THEN (SELECT model_key FROM kdb_embedding_spaces WHERE state = 'active') END`;

const SELECT_RECORD = `
  SELECT r.id, r.entity, r.data, r.created_at, r.updated_at, s.status, s.error, ${MODEL_OF_ROW} AS model, s.content_hash
    FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id
   WHERE r.id = $1 AND r.entity = $2`;

const toRecord = (r: RecordRow): StoredRecord => ({
  id: r.id,
  entity: r.entity,
  data: r.data,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  embedding: { status: r.status, error: r.error, model: r.model, contentHash: r.content_hash },
});

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function notFound(entity: string, id: string): NotFoundError {
  return new NotFoundError(`record "${id}" of entity "${entity}" does not exist`, { entity, id });
}

export async function getRecord(db: pg.Pool | pg.ClientBase, entity: string, id: string): Promise<StoredRecord> {
  if (!UUID_RE.test(id)) throw notFound(entity, id);
  const { rows } = await db.query<RecordRow>(SELECT_RECORD, [id, entity]);
  if (!rows[0]) throw notFound(entity, id);
  return toRecord(rows[0]);
}

const LIST_RECORDS = `
  SELECT r.id, r.entity, r.data, r.created_at, r.updated_at, s.status, s.error, ${MODEL_OF_ROW} AS model, s.content_hash
    FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id
   WHERE r.entity = $1 AND ($2::uuid IS NULL OR r.id > $2)
   ORDER BY r.id
   LIMIT $3`;

/**
 * One page of an entity's records in id order (UUIDv7: oldest first). The
 * cursor is the last id of the previous page, so a page costs the same
 * however deep it is, unlike an offset.
 */
export async function listRecords(db: pg.Pool | pg.ClientBase, entity: string, o: { limit: number; after?: string | undefined }): Promise<StoredRecord[]> {
  if (o.after !== undefined && !UUID_RE.test(o.after)) throw new ValidationError(`after must be a record id (a UUID); got "${o.after}"`, { after: o.after });
  const { rows } = await db.query<RecordRow>(LIST_RECORDS, [entity, o.after ?? null, o.limit]);
  return rows.map(toRecord);
}

/**
 * Merges `patch` into a record (a key set to null stores null). When the
 * composed text changes, the search row goes back to `pending` (keeping its
 * old vector searchable until the new one lands) and `reembed` is true; the
 * caller enqueues it after this commits.
 */
export async function patchRecord(
  pool: pg.Pool,
  entity: Entity,
  id: string,
  patch: unknown,
): Promise<{ record: StoredRecord; reembed: boolean }> {
  if (!UUID_RE.test(id)) throw notFound(entity.name, id);
  const changes = validateRecord(entity, patch, 'body', 'patch');
  const write = withTransaction(pool, async (client) => {
    const { rows } = await client.query<RecordRow>(`${SELECT_RECORD} FOR UPDATE OF r, s`, [id, entity.name]);
    const current = rows[0];
    if (!current) throw notFound(entity.name, id);
    const data = { ...current.data, ...changes };
    const composed = composeContent(data, entity.embedFields);
    const reembed = composed.hash !== current.content_hash;
    await client.query('UPDATE kdb_records SET data = $2, updated_at = now() WHERE id = $1', [id, JSON.stringify(data)]);
    if (reembed) {
      await setRowContent(client, [{ id, content: composed.content, hash: composed.hash }]);
      await indexKeywords(client, entity.name, [analyze({ id, content: composed.content })], { replace: true });
    }
    const after = await client.query<RecordRow>(SELECT_RECORD, [id, entity.name]);
    return { record: toRecord(after.rows[0]!), reembed };
  });
  return write.catch((err: unknown) => {
    throw uniqueViolation(err, entity) ?? err;
  });
}

export async function deleteRecord(db: pg.Pool, entity: string, id: string): Promise<void> {
  if (!UUID_RE.test(id)) throw notFound(entity, id);
  // kdb_search rows go with their record (ON DELETE CASCADE).
  const { rowCount } = await db.query('DELETE FROM kdb_records WHERE id = $1 AND entity = $2', [id, entity]);
  if (!rowCount) throw notFound(entity, id);
}

/**
 * Recomposes the text of the given records from the entity's current embed
 * fields; rows whose text changed go back to `pending`. Returns how many changed.
 */
export async function recomputeContent(db: pg.Pool, entity: Entity, ids: readonly string[]): Promise<number> {
  const { rows } = await db.query<{ id: string; data: Record<string, unknown>; content_hash: string }>(
    `SELECT r.id, r.data, s.content_hash FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.id = ANY($1::uuid[])`,
    [ids],
  );
  const changed = rows.map((r) => ({ id: r.id, ...composeContent(r.data, entity.embedFields), old: r.content_hash })).filter((r) => r.hash !== r.old);
  if (changed.length === 0) return 0;
  return withTransaction(db, async (client) => {
    const n = await setRowContent(client, changed);
    await indexKeywords(client, entity.name, changed.map((r) => analyze({ id: r.id, content: r.content })), { replace: true });
    return n;
  });
}
