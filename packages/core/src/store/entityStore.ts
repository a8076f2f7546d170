import type pg from 'pg';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Analyzer, Entity, EntityInput, EntityPatch } from '@kameleondb/schemas';
import { startAnalyzerRun, type AnalyzerRunRow } from './analyzerRunStore.js';
import { canonicalType } from '@kameleondb/schemas';
import { builtinNameMessage, isBuiltinName } from '@kameleondb/schemas';
import { normalizeFields, type FieldsInput } from '@kameleondb/schemas';
import { createUniqueIndex, dropUniqueIndex } from '../entities/uniqueFieldIndex.js';
import { renameRecordFields } from './recordStore.js';
import { withTransaction } from './withTransaction.js';

interface EntityRow {
  name: string;
  fields: Entity['fields'];
  embed_fields: string[];
  required_fields: string[];
  unique_fields: string[];
  analyzer: Analyzer;
  postings_key: string | null;
  postings_gen: number;
  next_analyzer: Analyzer | null;
  analyzer_run: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A prototype-less copy, so `fields[name]` answers only for declared fields, whatever the name. */
function ownFields(fields: Entity['fields']): Entity['fields'] {
  const out: Entity['fields'] = Object.create(null);
  for (const [k, v] of Object.entries(fields)) out[k] = v;
  return out;
}

const toEntity = (r: EntityRow): Entity => ({
  name: r.name,
  fields: ownFields(r.fields),
  embedFields: r.embed_fields,
  required: r.required_fields,
  unique: r.unique_fields,
  analyzer: r.analyzer,
  analyzerChange: r.next_analyzer && r.analyzer_run ? { to: r.next_analyzer, runId: r.analyzer_run } : null,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** A unique field's values are compared as text by a btree index: a json value has no one text form. */
function checkUniqueTypes(fields: Entity['fields'], unique: readonly string[]): void {
  for (const f of unique) {
    if (fields[f] === 'json') throw new ValidationError(`field "${f}": a json field cannot be unique (use string, text, integer, float, boolean, date or datetime)`, { field: f });
  }
}

/** The entity whose name differs from `name` only by case, if any. */
async function sameNameOtherCase(db: pg.Pool | pg.ClientBase, name: string): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM kdb_entities WHERE lower(name) = lower($1) AND name <> $1', [name]);
  return rows[0]?.name;
}

/** Creates the entity and the unique index of each unique field, in one transaction. */
export async function createEntity(pool: pg.Pool, input: EntityInput): Promise<Entity> {
  const { fields, required, unique } = normalizeFields(input.fields as FieldsInput);
  checkUniqueTypes(fields, unique);
  return withTransaction(pool, async (client) => {
    // No conflict target: a name taken in another case (kdb_entities_name_lower_idx) is a conflict too.
    const { rows } = await client.query<EntityRow>(
      `INSERT INTO kdb_entities (name, fields, embed_fields, required_fields, unique_fields, analyzer) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING *`,
      [input.name, JSON.stringify(fields), input.embedFields, required, unique, input.analyzer ?? 'simple'],
    );
    if (!rows[0]) {
      const other = await sameNameOtherCase(client, input.name);
      if (other !== undefined) {
        throw new ConflictError(`entity "${other}" already exists; entity names are unique regardless of case, so "${input.name}" cannot be created`, { name: input.name, existing: other });
      }
      throw new ConflictError(`entity "${input.name}" already exists`, { name: input.name });
    }
    for (const f of unique) await createUniqueIndex(client, input.name, f);
    return toEntity(rows[0]);
  });
}

async function notFound(db: pg.Pool | pg.ClientBase, name: string): Promise<NotFoundError> {
  // Lookups are exact; a name differing only by case gets a pointer to the right one.
  const other = await sameNameOtherCase(db, name);
  return new NotFoundError(`entity "${name}" does not exist${other === undefined ? '' : ` (names are exact: did you mean "${other}"?)`}`, {
    name,
    ...(other === undefined ? {} : { didYouMean: other }),
  });
}

export async function getEntity(db: pg.Pool | pg.ClientBase, name: string): Promise<Entity> {
  const { rows } = await db.query<EntityRow>('SELECT * FROM kdb_entities WHERE name = $1', [name]);
  if (!rows[0]) throw await notFound(db, name);
  return toEntity(rows[0]);
}

export async function listEntities(db: pg.Pool | pg.ClientBase): Promise<Entity[]> {
  const { rows } = await db.query<EntityRow>('SELECT * FROM kdb_entities ORDER BY name');
  return rows.map(toEntity);
}

/** What an entity PATCH changed, for the caller to recompute texts and reindex. */
export interface EntityUpdate {
  entity: Entity;
  /** The embedFields list differs (by name or order) from before. */
  embedFieldsChanged: boolean;
  /** Fields renamed or dropped: record data was rewritten in this transaction. */
  reshaped: boolean;
  /** A renamed or dropped field was embedded: composed texts change (they hold field names and values). */
  embedTextChanged: boolean;
  /** The rebuild of the postings for a new analyzer, started by this PATCH. */
  analyzerRun?: AnalyzerRunRow;
}

/**
 * Adds, renames and drops fields and/or replaces embedFields. Existing
 * fields keep their type (records already hold values of it).
 */
export async function updateEntity(pool: pg.Pool, name: string, patch: EntityPatch): Promise<EntityUpdate> {
  return withTransaction(pool, (client) => updateEntityIn(client, name, patch));
}

/** The renames and drops of a patch checked against the entity's fields, as 400s naming the field. */
function checkReshape(current: Entity, renames: Record<string, string>, drops: readonly string[]): void {
  const known = (f: string) => Object.hasOwn(current.fields, f);
  const list = Object.keys(current.fields).join(', ');
  const targets = new Map<string, string>();
  for (const [from, to] of Object.entries(renames)) {
    if (!known(from)) throw new ValidationError(`renameFields: field "${from}" is not one of the entity's fields (${list})`, { field: from });
    if (drops.includes(from)) throw new ValidationError(`field "${from}" is both renamed and dropped; do one of them`, { field: from });
    if (from === to) throw new ValidationError(`renameFields: field "${from}" would be renamed to its own name`, { field: from });
    if (known(to)) throw new ValidationError(`renameFields: new name "${to}" (for "${from}") is taken by an existing field; drop or rename that one in an earlier request`, { field: from, to });
    const other = targets.get(to);
    if (other !== undefined) throw new ValidationError(`renameFields: "${other}" and "${from}" would both be renamed to "${to}"`, { field: from, to });
    targets.set(to, from);
  }
  drops.forEach((f, i) => {
    if (!known(f)) throw new ValidationError(`dropFields.${i}: field "${f}" is not one of the entity's fields (${list})`, { field: f });
    if (drops.indexOf(f) !== i) throw new ValidationError(`dropFields.${i}: field "${f}" is listed twice`, { field: f });
  });
}

/**
 * updateEntity inside the caller's transaction (the entity row stays locked
 * until it ends). Renames and drops rewrite every record holding the
 * fields (renameRecordFields) and move or drop their unique indexes; the
 * caller recomputes texts when `embedTextChanged`.
 */
export async function updateEntityIn(client: pg.ClientBase, name: string, patch: EntityPatch): Promise<EntityUpdate> {
  const { rows } = await client.query<EntityRow>('SELECT * FROM kdb_entities WHERE name = $1 FOR UPDATE', [name]);
  if (!rows[0]) throw await notFound(client, name);
  const current = toEntity(rows[0]);
  const renames: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, patch.renameFields ?? {});
  const drops = patch.dropFields ?? [];
  checkReshape(current, renames, drops);
  const rename = (f: string) => (Object.hasOwn(renames, f) ? renames[f]! : f);
  const kept = (f: string) => !drops.includes(f);
  const fields: Entity['fields'] = Object.create(null);
  for (const [f, type] of Object.entries(current.fields)) if (kept(f)) fields[rename(f)] = type;
  const required = current.required.filter(kept).map(rename);
  const unique = current.unique.filter(kept).map(rename);
  const reshaped = Object.keys(renames).length > 0 || drops.length > 0;
  const touched = new Set([...Object.keys(renames), ...Object.values(renames), ...drops]);

  const added = normalizeFields((patch.fields ?? {}) as FieldsInput);
  const newUnique: string[] = [];
  let newRequired: string | undefined;
  for (const [field, type] of Object.entries(added.fields)) {
    // Also checked by entityPatchSchema; repeated here because nothing may be written with such a name.
    if (isBuiltinName(field)) throw new ValidationError(`fields: ${builtinNameMessage('field name', field)}`, { field });
    if (touched.has(field)) throw new ValidationError(`fields: field "${field}" is renamed or dropped in this request; add it in another request`, { field });
    const wantRequired = added.required.includes(field);
    const wantUnique = added.unique.includes(field);
    if (fields[field] !== undefined) {
      if (canonicalType(fields[field]) !== type) {
        throw new ValidationError(`field "${field}" is ${fields[field]}; a field's type cannot change (add a new field instead)`, { field });
      }
      if (wantRequired !== required.includes(field) || wantUnique !== unique.includes(field)) {
        throw new ValidationError(`field "${field}" exists; its required and unique settings cannot change (add a new field instead)`, { field });
      }
      continue;
    }
    fields[field] = type;
    if (wantRequired) {
      required.push(field);
      newRequired ??= field;
    }
    if (wantUnique) {
      unique.push(field);
      newUnique.push(field);
    }
  }
  checkUniqueTypes(fields, newUnique);
  if (newRequired !== undefined) {
    // Existing records cannot hold a field that did not exist.
    const { rowCount } = await client.query('SELECT 1 FROM kdb_records WHERE entity = $1 LIMIT 1', [name]);
    if (rowCount) throw new ValidationError(`field "${newRequired}" cannot be added as required: entity "${name}" already has records, which lack it`, { field: newRequired });
  }
  const embedFields = patch.embedFields ?? current.embedFields.filter(kept).map(rename);
  if (embedFields.length === 0) {
    throw new ValidationError(`dropFields: dropping ${current.embedFields.map((f) => `"${f}"`).join(', ')} would leave no embed field; send embedFields naming another field in the same request`, {
      embedFields: current.embedFields,
    });
  }
  if (patch.embedFields) {
    const builtin = patch.embedFields.findIndex(isBuiltinName);
    if (builtin >= 0) throw new ValidationError(`embedFields.${builtin}: ${builtinNameMessage('embed field', patch.embedFields[builtin]!)}`, { field: patch.embedFields[builtin] });
  }
  embedFields.forEach((f, i) => {
    if (!Object.hasOwn(fields, f)) throw new ValidationError(`embedFields.${i}: embed field "${f}" is not one of the entity's fields (${Object.keys(fields).join(', ')})`);
    if (embedFields.indexOf(f) !== i) throw new ValidationError(`embedFields.${i}: embed field "${f}" is listed twice`);
  });
  const mapped = current.embedFields.filter(kept).map(rename);
  const embedFieldsChanged = embedFields.join('\u0000') !== mapped.join('\u0000');
  const embedTextChanged = current.embedFields.some((f) => touched.has(f));
  const updated = await client.query<EntityRow>(
    'UPDATE kdb_entities SET fields = $2, embed_fields = $3, required_fields = $4, unique_fields = $5, updated_at = now() WHERE name = $1 RETURNING *',
    [name, JSON.stringify(fields), embedFields, required, unique],
  );
  if (reshaped) {
    // The old indexes first: the rewrite then maintains none of them, and a renamed field's index is built once, on the new key.
    const moved = current.unique.filter((f) => touched.has(f));
    for (const f of moved) await dropUniqueIndex(client, name, f);
    await renameRecordFields(client, name, renames, drops);
    for (const f of moved) if (kept(f)) await createUniqueIndex(client, name, rename(f));
  }
  for (const f of newUnique) await createUniqueIndex(client, name, f);
  const row = updated.rows[0]!;
  if (patch.analyzer !== undefined && (patch.analyzer !== row.analyzer || row.next_analyzer !== null)) {
    const analyzerRun = await startAnalyzerRun(
      client,
      { name, analyzer: row.analyzer, postingsKey: row.postings_key ?? name, postingsGen: row.postings_gen, running: row.analyzer_run && row.next_analyzer ? row.analyzer_run : null },
      patch.analyzer,
    );
    const again = await client.query<EntityRow>('SELECT * FROM kdb_entities WHERE name = $1', [name]);
    return { entity: toEntity(again.rows[0]!), embedFieldsChanged, reshaped, embedTextChanged, analyzerRun };
  }
  return { entity: toEntity(row), embedFieldsChanged, reshaped, embedTextChanged };
}
