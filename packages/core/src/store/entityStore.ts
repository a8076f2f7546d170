import type pg from 'pg';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Entity, EntityInput, EntityPatch } from '../entities/entitySchema.js';
import { builtinNameMessage, isBuiltinName } from '../entities/isBuiltinName.js';
import { withTransaction } from './withTransaction.js';

interface EntityRow {
  name: string;
  fields: Entity['fields'];
  embed_fields: string[];
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
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export async function createEntity(db: pg.Pool | pg.ClientBase, input: EntityInput): Promise<Entity> {
  const { rows } = await db.query<EntityRow>(
    `INSERT INTO kdb_entities (name, fields, embed_fields) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO NOTHING RETURNING *`,
    [input.name, JSON.stringify(input.fields), input.embedFields],
  );
  if (!rows[0]) throw new ConflictError(`entity "${input.name}" already exists`, { name: input.name });
  return toEntity(rows[0]);
}

export async function getEntity(db: pg.Pool | pg.ClientBase, name: string): Promise<Entity> {
  const { rows } = await db.query<EntityRow>('SELECT * FROM kdb_entities WHERE name = $1', [name]);
  if (!rows[0]) throw new NotFoundError(`entity "${name}" does not exist`, { name });
  return toEntity(rows[0]);
}

export async function listEntities(db: pg.Pool | pg.ClientBase): Promise<Entity[]> {
  const { rows } = await db.query<EntityRow>('SELECT * FROM kdb_entities ORDER BY name');
  return rows.map(toEntity);
}

/**
 * Adds fields and/or replaces embedFields. Existing fields keep their type
 * (records already hold values of it). `embedFieldsChanged` tells the caller
 * to recompute texts and reindex.
 */
export async function updateEntity(pool: pg.Pool, name: string, patch: EntityPatch): Promise<{ entity: Entity; embedFieldsChanged: boolean }> {
  return withTransaction(pool, (client) => updateEntityIn(client, name, patch));
}

/** updateEntity inside the caller's transaction (the entity row stays locked until it ends). */
export async function updateEntityIn(client: pg.ClientBase, name: string, patch: EntityPatch): Promise<{ entity: Entity; embedFieldsChanged: boolean }> {
  const { rows } = await client.query<EntityRow>('SELECT * FROM kdb_entities WHERE name = $1 FOR UPDATE', [name]);
  if (!rows[0]) throw new NotFoundError(`entity "${name}" does not exist`, { name });
  const current = toEntity(rows[0]);
  const fields = ownFields(current.fields);
  for (const [field, type] of Object.entries(patch.fields ?? {})) {
    // Also checked by entityPatchSchema; repeated here because nothing may be written with such a name.
    if (isBuiltinName(field)) throw new ValidationError(`fields: ${builtinNameMessage('field name', field)}`, { field });
    if (fields[field] !== undefined && fields[field] !== type) {
      throw new ValidationError(`field "${field}" is ${fields[field]}; a field's type cannot change (add a new field instead)`, { field });
    }
    fields[field] = type;
  }
  const embedFields = patch.embedFields ?? current.embedFields;
  if (patch.embedFields) {
    const builtin = patch.embedFields.findIndex(isBuiltinName);
    if (builtin >= 0) throw new ValidationError(`embedFields.${builtin}: ${builtinNameMessage('embed field', patch.embedFields[builtin]!)}`, { field: patch.embedFields[builtin] });
  }
  embedFields.forEach((f, i) => {
    if (!Object.hasOwn(fields, f)) throw new ValidationError(`embedFields.${i}: embed field "${f}" is not one of the entity's fields (${Object.keys(fields).join(', ')})`);
    if (embedFields.indexOf(f) !== i) throw new ValidationError(`embedFields.${i}: embed field "${f}" is listed twice`);
  });
  const changed = embedFields.join('\u0000') !== current.embedFields.join('\u0000');
  const updated = await client.query<EntityRow>(
    'UPDATE kdb_entities SET fields = $2, embed_fields = $3, updated_at = now() WHERE name = $1 RETURNING *',
    [name, JSON.stringify(fields), embedFields],
  );
  return { entity: toEntity(updated.rows[0]!), embedFieldsChanged: changed };
}
