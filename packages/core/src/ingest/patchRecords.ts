import type { Queue } from 'bullmq';
import type pg from 'pg';
import { ConflictError, KdbError, TooManyRecordsError, ValidationError } from '../errors.js';
import type { Entity } from '@kameleondb/schemas';
import { uniqueViolation } from '../entities/uniqueFieldIndex.js';
import { validateRecord } from '../entities/validateRecord.js';
import { DEFAULTS } from '../config/defaults.js';
import { enqueueEmbed, type EmbedJobData } from '../jobs/embedQueue.js';
import { lockEntityUnchanged } from '../store/lockEntityUnchanged.js';
import { duplicateIds, resolveRecordIds, writeRecordPatches } from '../store/recordStore.js';
import { withTransaction } from '../store/withTransaction.js';
import { CpuSlice } from '../util/CpuSlice.js';
import { MAX_REQUEST_RECORDS } from './ingestRecords.js';
import type { SourcedValue } from './readNdjson.js';

export interface PatchRecordsOptions {
  pool: pg.Pool;
  queue: Queue<EmbedJobData>;
  /** Model keys of spaces being built: changed texts are embedded into them too (at lower priority). */
  buildingSpaces?: readonly string[];
  entity: Entity;
  /** `{id, ...fields}` each: `id` a record id or a unique prefix of one. */
  records: Iterable<SourcedValue> | AsyncIterable<SourcedValue>;
  /** Ids per embed job. Default DEFAULTS.jobSize. */
  jobSize?: number;
  /** Most records one request may carry. Default MAX_REQUEST_RECORDS, as an ingest. */
  maxRecords?: number;
}

export interface PatchRecordsResult {
  /** The records' ids, in request order. */
  ids: string[];
  /** Records whose embedded text changed: back to pending, enqueued after the commit. */
  reembed: number;
  jobs: number;
  /** Set when the changes were committed but enqueueing failed: the rows stay pending for the sweeper. */
  enqueueError?: string;
}

const shortId = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v));

/**
 * A batch update: each item merges into its record as a single PATCH does.
 * Every item is validated first (its id a string, its fields as the entity
 * declares them, required ones not set to null), then the ids are resolved
 * and all records written in ONE transaction; jobs are enqueued after the
 * commit.
 * - A bad item, an unknown or ambiguous id, an id twice, a unique value
 *   taken: nothing is written, and the error names the line or index and
 *   the id.
 * - Process dies before the commit: nothing is changed. After it: the
 *   changes are durable, changed texts `pending`; the sweeper enqueues them.
 */
export async function patchRecords(opts: PatchRecordsOptions): Promise<PatchRecordsResult> {
  const maxRecords = opts.maxRecords ?? MAX_REQUEST_RECORDS;
  const items: { where: string; ref: string; changes: Record<string, unknown> }[] = [];
  const slice = new CpuSlice();
  for await (const { value, where } of opts.records) {
    if (items.length >= maxRecords) throw new TooManyRecordsError(`too many records in one request: the limit is ${maxRecords} (KDB_MAX_RECORDS_PER_REQUEST); ${where} is one more`, { limit: maxRecords });
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ValidationError(`${where}: each item must be a JSON object {"id": ..., ...fields}, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`, { at: where });
    }
    const { id, ...fields } = value as Record<string, unknown>;
    if (typeof id !== 'string' || id === '') {
      throw new ValidationError(`${where}: "id" must be the record's id (or a unique prefix of it) as a string; got ${id === undefined ? 'none' : shortId(id)}`, { at: where });
    }
    items.push({ where, ref: id, changes: validateRecord(opts.entity, fields, `${where} (id ${shortId(id)})`, 'patch') });
    if (slice.due()) await slice.pause();
  }
  if (items.length === 0) throw new ValidationError('no records in the request body: send a JSON array or NDJSON of {"id": ..., ...fields}');

  const where = (i: number) => items[i]!.where;
  const written = await withTransaction(opts.pool, async (client) => {
    await lockEntityUnchanged(client, opts.entity);
    const refs = items.map((it) => it.ref);
    const ids = await resolveRecordIds(client, opts.entity.name, refs, where);
    const dup = duplicateIds(ids, refs, where);
    if (dup) throw dup;
    const reembed = await writeRecordPatches(client, opts.entity, ids.map((id, i) => ({ id, changes: items[i]!.changes })));
    return { ids, reembed };
  }).catch((err: unknown) => {
    const conflict = uniqueViolation(err, opts.entity);
    throw conflict ? nameUniqueHolder(conflict, items) : err;
  });

  const result = { ids: written.ids, reembed: written.reembed.length };
  if (written.reembed.length === 0) return { ...result, jobs: 0 };
  try {
    return { ...result, jobs: await enqueueEmbed(opts.queue, written.reembed, { chunkSize: opts.jobSize ?? DEFAULTS.jobSize, buildingSpaces: opts.buildingSpaces ?? [] }) };
  } catch (err) {
    return { ...result, jobs: 0, enqueueError: (err as Error).message };
  }
}

/** A unique 409 with the item that set the value, when one of this request did (Postgres names only the value). */
function nameUniqueHolder(conflict: ConflictError, items: readonly { where: string; ref: string; changes: Record<string, unknown> }[]): KdbError {
  const d = conflict.details as { field: string; value?: string };
  if (d.value === undefined) return conflict;
  const i = items.findIndex((it) => Object.hasOwn(it.changes, d.field) && it.changes[d.field] !== null && String(it.changes[d.field]) === d.value);
  if (i < 0) return conflict;
  return new ConflictError(`${items[i]!.where} (id ${shortId(items[i]!.ref)}): ${conflict.message}`, { ...d, at: items[i]!.where, id: items[i]!.ref });
}
