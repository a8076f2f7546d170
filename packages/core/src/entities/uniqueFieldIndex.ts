import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ConflictError } from '../errors.js';
import type { Entity } from '@kameleondb/schemas';

const PREFIX = 'kdb_records_uq_';

/**
 * The index of one unique field. Derived from a hash: entity and field names
 * together can exceed Postgres's 63-byte identifiers, and a hash keeps the
 * name free of anything needing quotes.
 */
export function uniqueIndexName(entity: string, field: string): string {
  return PREFIX + createHash('sha256').update(`${entity}\u0000${field}`).digest('hex').slice(0, 32);
}

/** A SQL string literal; names are already restricted by their regexes, this keeps any quote harmless. */
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * Creates the partial unique index enforcing `field` of `entity`, in the
 * caller's transaction (the entity's create or alter), so the entity never
 * exists without its constraint. DDL takes no parameters: the names are
 * written as literals. IF NOT EXISTS: a deleted entity of the same name may
 * have left its index behind, and that index is this one.
 */
export async function createUniqueIndex(client: pg.ClientBase, entity: string, field: string): Promise<void> {
  await client.query(
    `CREATE UNIQUE INDEX IF NOT EXISTS ${uniqueIndexName(entity, field)} ON kdb_records ((data->>${literal(field)})) WHERE entity = ${literal(entity)}`,
  );
}

/** Drops the unique index of `field` (renamed or dropped), in the caller's transaction: it commits with the entity's change. */
export async function dropUniqueIndex(client: pg.ClientBase, entity: string, field: string): Promise<void> {
  await client.query(`DROP INDEX IF EXISTS ${uniqueIndexName(entity, field)}`);
}

/**
 * A unique violation of one of `entity`'s unique fields as a 409 naming the
 * field and the value (read from Postgres's detail, `Key (…)=(value) already
 * exists.`), or undefined for any other error.
 */
export function uniqueViolation(err: unknown, entity: Entity): ConflictError | undefined {
  const e = err as { code?: string; constraint?: string; detail?: string };
  if (e?.code !== '23505' || !e.constraint?.startsWith(PREFIX)) return undefined;
  const field = entity.unique.find((f) => uniqueIndexName(entity.name, f) === e.constraint);
  if (field === undefined) return undefined;
  const value = /^Key \(.*\)=\((.*)\) already exists\.?$/s.exec(e.detail ?? '')?.[1];
  const shown = value === undefined ? 'a value' : `value ${JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value)}`;
  return new ConflictError(`field "${field}" of entity "${entity.name}" is unique: ${shown} is already taken (by another record or earlier in this request); nothing was written`, {
    entity: entity.name,
    field,
    ...(value === undefined ? {} : { value }),
  });
}
