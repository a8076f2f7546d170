import type pg from 'pg';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Entity } from '@kameleondb/schemas';

/**
 * In a record write's transaction: locks the entity row FOR SHARE (an
 * entity PATCH waits for the write, and the write for a PATCH in progress)
 * and refuses with a 409 when the entity changed since `entity` was read in
 * a way that invalidates records validated against it: a field renamed,
 * dropped or retyped, embedFields changed, or required/unique changed on
 * the fields it had. Fields only added pass (those records cannot hold
 * them). Its own file, not entityStore: the record store calls it, and
 * entityStore calls the record store (field renames).
 */
export async function lockEntityUnchanged(client: pg.ClientBase, entity: Entity): Promise<void> {
  const { rows } = await client.query<{ fields: Entity['fields']; embed_fields: string[]; required_fields: string[]; unique_fields: string[] }>(
    'SELECT fields, embed_fields, required_fields, unique_fields FROM kdb_entities WHERE name = $1 FOR SHARE',
    [entity.name],
  );
  const now = rows[0];
  if (!now) throw new NotFoundError(`entity "${entity.name}" does not exist (it was deleted while this request was being read)`, { name: entity.name });
  const had = (f: string) => Object.hasOwn(entity.fields, f);
  const same = (a: readonly string[], b: readonly string[]) => a.join('\u0000') === b.join('\u0000');
  const kept = Object.entries(entity.fields).every(([f, type]) => Object.hasOwn(now.fields, f) && now.fields[f] === type);
  if (kept && same(now.embed_fields, entity.embedFields) && same(now.required_fields.filter(had), entity.required) && same(now.unique_fields.filter(had), entity.unique)) return;
  throw new ConflictError(`entity "${entity.name}" changed while this request was being read (fields renamed or dropped, or embedFields changed); nothing was written: send the request again`, {
    entity: entity.name,
  });
}
