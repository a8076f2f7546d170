import type pg from 'pg';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Entity, EntityInput } from '../entities/entitySchema.js';

interface EntityRow {
  name: string;
  fields: Entity['fields'];
  embed_fields: string[];
  created_at: Date;
  updated_at: Date;
}

const toEntity = (r: EntityRow): Entity => ({
  name: r.name,
  fields: r.fields,
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
