import { v7 as uuidv7 } from 'uuid';
import type pg from 'pg';
import { AmbiguousIdError, NotFoundError, ValidationError } from '../errors.js';
import { MIN_ID_PREFIX, recordIdRange, type RecordIdRange } from '../entities/recordIdPrefix.js';
import type { Entity } from '@kameleondb/schemas';
import { uniqueViolation } from '../entities/uniqueFieldIndex.js';
import { validateRecord } from '../entities/validateRecord.js';
import { composeContent } from '../content/composeContent.js';
import { lockEntityUnchanged } from './lockEntityUnchanged.js';
import { withTransaction } from './withTransaction.js';
import { mapYielding } from '../util/mapYielding.js';
import { indexKeywords, postingsTargets, type AnalyzedDoc, type KeywordIndexWriter } from './keywordIndex.js';
import { insertSearchRows, setRowContent, type InsertedSearchRows, type SearchStatus, type VectorSpaceRef } from './searchRowStore.js';
import type { StoredRecord } from '@kameleondb/schemas';
export type { StoredRecord };


const INSERT_RECORDS = `
  INSERT INTO kdb_records (id, entity, data)
  SELECT id, $2, data FROM unnest($1::uuid[], $3::jsonb[]) AS t(id, data)`;

/** Validated records made ready to write (ids, JSON, composed text and its hash, analyzed terms): prepareRecordChunk. */
export interface PreparedChunk {
  ids: string[];
  data: string[];
  contents: string[];
  hashes: string[];
  docs: AnalyzedDoc[];
}

/**
 * The CPU part of writing records, apart from the statements, so that an
 * ingest prepares one chunk while the server writes the one before it. Ids
 * are UUIDv7 (time-ordered): consecutive records land side by side in every
 * index keyed by record id, instead of on random pages
 * (docs/decisions/ingest-ids-v7.md).
 */
export async function prepareRecordChunk(entity: Entity, records: readonly Record<string, unknown>[], keywords: Pick<KeywordIndexWriter, 'analyze'>): Promise<PreparedChunk> {
  // Prepared in slices (JSON, text hash, terms): searches served by the same process run in between.
  const prepared = await mapYielding(records, (r) => {
    const id = uuidv7();
    const content = composeContent(r, entity.embedFields);
    return { id, data: JSON.stringify(r), content, doc: keywords.analyze({ id, content: content.content }) };
  });
  return {
    ids: prepared.map((p) => p.id),
    data: prepared.map((p) => p.data),
    contents: prepared.map((p) => p.content.content),
    hashes: prepared.map((p) => p.content.hash),
    docs: prepared.map((p) => p.doc),
  };
}

/**
 * Writes prepared records and their search rows (pending; ready with their
 * vector when `cached` is given and the cache holds their text), and returns their
 * analyzed text for the keyword index (KeywordIndexWriter), which the caller
 * writes in the same transaction, for this chunk or for several at once.
 */
export async function writeRecordChunk(
  client: pg.ClientBase,
  entity: Entity,
  chunk: PreparedChunk,
  /** The active space, locked shared: rows whose text is cached get their vector now (insertSearchRows). */
  cached?: VectorSpaceRef | null,
  /** Numbers the documents when their postings go into blocks. */
  keywords?: Pick<KeywordIndexWriter, 'number'>,
): Promise<{ ids: string[]; docs: AnalyzedDoc[] } & InsertedSearchRows> {
  const { ids } = chunk;
  await client.query(INSERT_RECORDS, [ids, entity.name, chunk.data]);
  const blocks = keywords ? await keywords.number(client, chunk.docs) : null;
  const inserted = await insertSearchRows(client, entity.name, { ids, contents: chunk.contents, hashes: chunk.hashes, lengths: chunk.docs.map((d) => d.length), blocks }, cached);
  return { ids, docs: chunk.docs, ...inserted };
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
  return new NotFoundError(`record ${shown(id)} of entity "${entity}" does not exist`, { entity, id });
}

/**
 * Up to 5 ids of `entity` in each [lo, hi] range, in one statement: per
 * range an index range scan of kdb_records_entity_idx (entity, id), the
 * same probe as an equality lookup when lo = hi (a whole id).
 */
export const RESOLVE_IDS = `
  SELECT t.i::int AS i, r.id
    FROM unnest($2::uuid[], $3::uuid[]) WITH ORDINALITY AS t(lo, hi, i)
    CROSS JOIN LATERAL (
      SELECT k.id FROM kdb_records k WHERE k.entity = $1 AND k.id >= t.lo AND k.id <= t.hi ORDER BY k.id LIMIT 5
    ) r`;

/** References per RESOLVE_IDS statement: bounds each statement's arrays. */
const RESOLVE_BATCH = 10_000;

const shown = (ref: string) => JSON.stringify(ref.length > 60 ? `${ref.slice(0, 60)}…` : ref);

/**
 * Turns record references (whole ids or unique prefixes, see recordIdRange)
 * into ids of `entity`, in order. `where(i)` names the i-th reference in an
 * error (`line 3`, `ids[2]`). References that match nothing: one 404 naming
 * them (up to 20 in the message, 100 in details). A prefix matching several
 * records: 409 `ambiguous_id` with up to 5 candidates.
 */
export async function resolveRecordIds(
  db: pg.Pool | pg.ClientBase,
  entity: string,
  refs: readonly string[],
  where: (i: number) => string | undefined = () => undefined,
): Promise<string[]> {
  const ranges = refs.map((r) => (typeof r === 'string' ? recordIdRange(r) : null));
  const found: string[][] = refs.map(() => []);
  const valid = ranges.map((r, i) => [r, i] as const).filter((x): x is readonly [RecordIdRange, number] => x[0] !== null);
  for (let start = 0; start < valid.length; start += RESOLVE_BATCH) {
    const batch = valid.slice(start, start + RESOLVE_BATCH);
    const { rows } = await db.query<{ i: number; id: string }>(RESOLVE_IDS, [entity, batch.map(([r]) => r.lo), batch.map(([r]) => r.hi)]);
    for (const row of rows) found[batch[row.i - 1]![1]]!.push(row.id);
  }
  const label = (i: number) => {
    const w = where(i);
    return `${shown(refs[i]!)}${w ? ` (${w})` : ''}`;
  };
  const missing = refs.map((_, i) => i).filter((i) => found[i]!.length === 0);
  if (missing.length === 1 && refs.length === 1) {
    const e = notFound(entity, refs[0]!);
    if (ranges[0] === null) e.message += ` (an id is a UUID or a unique prefix of at least ${MIN_ID_PREFIX} hex characters)`;
    throw e;
  }
  if (missing.length > 0) {
    const names = missing.slice(0, 20).map(label).join(', ');
    throw new NotFoundError(
      `${missing.length} of the ids match no record of entity "${entity}": ${names}${missing.length > 20 ? ', …' : ''}; nothing was changed (an id is a UUID or a unique prefix of at least ${MIN_ID_PREFIX} hex characters)`,
      { entity, missing: missing.slice(0, 100).map((i) => ({ id: refs[i], ...(where(i) ? { at: where(i) } : {}) })) },
    );
  }
  const ambiguous = refs.findIndex((_, i) => found[i]!.length > 1);
  if (ambiguous >= 0) {
    const candidates = found[ambiguous]!;
    throw new AmbiguousIdError(
      `id prefix ${label(ambiguous)} matches several records of entity "${entity}" (${candidates.join(', ')}${candidates.length === 5 ? ', …' : ''}); give more characters`,
      { entity, prefix: refs[ambiguous], candidates, ...(where(ambiguous) ? { at: where(ambiguous) } : {}) },
    );
  }
  return found.map((ids) => ids[0]!);
}

/** One reference (resolveRecordIds); a whole id is taken as it is, without a lookup. */
export async function resolveRecordId(db: pg.Pool | pg.ClientBase, entity: string, ref: string): Promise<string> {
  if (UUID_RE.test(ref)) return ref;
  return (await resolveRecordIds(db, entity, [ref]))[0]!;
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
    await lockEntityUnchanged(client, entity);
    const { rows } = await client.query<RecordRow>(`${SELECT_RECORD} FOR UPDATE OF r, s`, [id, entity.name]);
    const current = rows[0];
    if (!current) throw notFound(entity.name, id);
    const data = { ...current.data, ...changes };
    const composed = composeContent(data, entity.embedFields);
    const reembed = composed.hash !== current.content_hash;
    await client.query('UPDATE kdb_records SET data = $2, updated_at = now() WHERE id = $1', [id, JSON.stringify(data)]);
    if (reembed) {
      await setRowContent(client, [{ id, content: composed.content, hash: composed.hash }]);
      await indexKeywords(client, entity.name, [{ id, content: composed.content }], { replace: true });
    }
    const after = await client.query<RecordRow>(SELECT_RECORD, [id, entity.name]);
    return { record: toRecord(after.rows[0]!), reembed };
  });
  return write.catch((err: unknown) => {
    throw uniqueViolation(err, entity) ?? err;
  });
}

/** How many records `entity` holds (one index-only count over kdb_records_entity_idx). */
export async function countRecords(db: pg.Pool | pg.ClientBase, entity: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM kdb_records WHERE entity = $1', [entity]);
  return Number(rows[0]!.n);
}

export async function deleteRecord(db: pg.Pool, entity: string, id: string): Promise<void> {
  if (!UUID_RE.test(id)) throw notFound(entity, id);
  // kdb_search rows go with their record (ON DELETE CASCADE).
  const { rowCount } = await db.query('DELETE FROM kdb_records WHERE id = $1 AND entity = $2', [id, entity]);
  if (!rowCount) throw notFound(entity, id);
}

/**
 * Merges each patch into its record, in the caller's transaction, in
 * chunks of statements: rows locked in id order (two batches touching the
 * same records cannot deadlock), data written, and the search row and
 * postings of every record whose composed text changed, as a single PATCH
 * does. Returns the ids whose text changed (to enqueue after the commit).
 * An id missing here (deleted since it was resolved) is a 404.
 */
export async function writeRecordPatches(
  client: pg.ClientBase,
  entity: Entity,
  patches: readonly { id: string; changes: Record<string, unknown> }[],
  chunkSize = 5000,
): Promise<string[]> {
  const reembed: string[] = [];
  for (let start = 0; start < patches.length; start += chunkSize) {
    const chunk = patches.slice(start, start + chunkSize);
    const { rows } = await client.query<{ id: string; data: Record<string, unknown>; content_hash: string }>(
      `SELECT r.id, r.data, s.content_hash FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id
        WHERE r.entity = $1 AND r.id = ANY($2::uuid[]) ORDER BY r.id FOR UPDATE OF r, s`,
      [entity.name, chunk.map((p) => p.id)],
    );
    const current = new Map(rows.map((r) => [r.id, r]));
    const gone = chunk.find((p) => !current.has(p.id));
    if (gone) throw new NotFoundError(`record "${gone.id}" of entity "${entity.name}" was deleted meanwhile by another request; nothing was changed`, { entity: entity.name, id: gone.id });
    const merged = await mapYielding(chunk, (p) => {
      const before = current.get(p.id)!;
      const data = { ...before.data, ...p.changes };
      const composed = composeContent(data, entity.embedFields);
      return { id: p.id, data: JSON.stringify(data), ...composed, changed: composed.hash !== before.content_hash };
    });
    await client.query('UPDATE kdb_records r SET data = t.data, updated_at = now() FROM unnest($1::uuid[], $2::jsonb[]) AS t(id, data) WHERE r.id = t.id', [
      merged.map((m) => m.id),
      merged.map((m) => m.data),
    ]);
    const changed = merged.filter((m) => m.changed);
    if (changed.length) {
      await setRowContent(client, changed);
      await indexKeywords(client, entity.name, changed.map((m) => ({ id: m.id, content: m.content })), { replace: true });
      reembed.push(...changed.map((m) => m.id));
    }
  }
  return reembed;
}

/** Most ids one batch delete may name. */
export const MAX_DELETE_IDS = 10_000;

/** The first id resolved twice, as a 400 naming both references. */
export function duplicateIds(ids: readonly string[], refs: readonly string[], where: (i: number) => string): ValidationError | undefined {
  const first = new Map<string, number>();
  for (const [i, id] of ids.entries()) {
    const j = first.get(id);
    if (j !== undefined) {
      const same = refs[i] === refs[j] ? `${shown(refs[i]!)}` : `${shown(refs[i]!)} (record ${id})`;
      return new ValidationError(`${where(i)}: id ${same} is also at ${where(j)}; each record may appear once per request`, { id, at: [where(j), where(i)] });
    }
    first.set(id, i);
  }
  return undefined;
}

/**
 * Deletes the records `refs` name (whole ids or unique prefixes) in one
 * transaction: every reference must match one record of `entity`, else
 * nothing is deleted (404 naming the ones that match nothing). Search rows
 * and postings go by cascade and trigger, as for one record.
 */
export async function deleteRecords(pool: pg.Pool, entity: string, refs: readonly string[]): Promise<string[]> {
  if (refs.length === 0 || refs.length > MAX_DELETE_IDS) throw new ValidationError(`ids must list 1 to ${MAX_DELETE_IDS} record ids; got ${refs.length}`, { limit: MAX_DELETE_IDS });
  const where = (i: number) => `ids[${i}]`;
  return withTransaction(pool, async (client) => {
    const ids = await resolveRecordIds(client, entity, refs, where);
    const dup = duplicateIds(ids, refs, where);
    if (dup) throw dup;
    const { rows } = await client.query<{ id: string }>('DELETE FROM kdb_records WHERE entity = $1 AND id = ANY($2::uuid[]) RETURNING id', [entity, ids]);
    if (rows.length < ids.length) {
      // Deleted by another request between the lookup and here: this one changes nothing.
      const gone = new Set(rows.map((r) => r.id));
      const missing = ids.filter((id) => !gone.has(id));
      throw new NotFoundError(`${missing.length} of the ids were deleted meanwhile by another request: ${missing.slice(0, 20).join(', ')}; nothing was deleted`, { entity, missing: missing.slice(0, 100) });
    }
    return ids;
  });
}

/**
 * Renames keys (`renames`: old → new) and removes keys (`drops`) in the data
 * of every record of `entity` holding one of them, in one statement of the
 * caller's transaction (the entity's PATCH). `updated_at` stays: the values
 * did not change, only the entity's field names.
 */
export async function renameRecordFields(client: pg.ClientBase, entity: string, renames: Record<string, string>, drops: readonly string[]): Promise<number> {
  const olds = Object.keys(renames);
  const { rowCount } = await client.query(
    `UPDATE kdb_records SET data = (
       SELECT COALESCE(jsonb_object_agg(COALESCE(m.new_key, e.key), e.value), '{}'::jsonb)
         FROM jsonb_each(data) e LEFT JOIN unnest($2::text[], $3::text[]) AS m(old_key, new_key) ON m.old_key = e.key
        WHERE e.key <> ALL($4::text[]))
      WHERE entity = $1 AND data ?| $5::text[]`,
    [entity, olds, olds.map((k) => renames[k]), drops, [...olds, ...drops]],
  );
  return rowCount ?? 0;
}

/** Records per page of recomputeEntityContent. */
const RECOMPUTE_PAGE = 2000;

/**
 * Recomposes the text of every record of `entity` from its data and the
 * entity's embed fields, in the caller's transaction, page by page in id
 * order: rows whose text changed get the new text and hash, go back to
 * `pending` and get their postings replaced (as a record PATCH). Returns
 * how many changed.
 */
export async function recomputeEntityContent(client: pg.ClientBase, entity: Entity): Promise<number> {
  let after: string | null = null;
  let changedCount = 0;
  for (;;) {
    const { rows }: { rows: { id: string; data: Record<string, unknown>; content_hash: string }[] } = await client.query(
      `SELECT r.id, r.data, s.content_hash FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id
        WHERE r.entity = $1 AND ($2::uuid IS NULL OR r.id > $2) ORDER BY r.id LIMIT $3`,
      [entity.name, after, RECOMPUTE_PAGE],
    );
    if (rows.length === 0) return changedCount;
    const changed = (await mapYielding(rows, (r) => ({ id: r.id, ...composeContent(r.data, entity.embedFields), old: r.content_hash }))).filter((r) => r.hash !== r.old);
    if (changed.length) {
      changedCount += await setRowContent(client, changed);
      await indexKeywords(client, entity.name, changed.map((r) => ({ id: r.id, content: r.content })), { replace: true });
    }
    after = rows[rows.length - 1]!.id;
  }
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
    // The entity row first, as every writer takes it: a rebuild's switch holds it while it updates these rows.
    await postingsTargets(client, entity.name);
    const n = await setRowContent(client, changed);
    await indexKeywords(client, entity.name, changed.map((r) => ({ id: r.id, content: r.content })), { replace: true });
    return n;
  });
}
