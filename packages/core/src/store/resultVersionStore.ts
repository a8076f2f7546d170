import type pg from 'pg';

/** The entity name of the global version: spaces and vector segments, which every search reads. */
export const GLOBAL_VERSION = '';

/**
 * The result versions of `entities` and the global one, as one comparable
 * text (`name=sum` in the given order; a name without rows counts 0). One
 * statement over the primary key of kdb_result_versions (at most 32 slot rows
 * per entity while at most 32 transactions write at once; see
 * sql/000012_result_versions.sql).
 */
export async function readResultVersions(db: pg.Pool | pg.ClientBase, entities: readonly string[]): Promise<string> {
  const names = [GLOBAL_VERSION, ...entities];
  const { rows } = await db.query<{ entity: string; writes: string }>({
    name: 'kdb_result_versions',
    text: 'SELECT entity, sum(writes)::text AS writes FROM kdb_result_versions WHERE entity = ANY($1::text[]) GROUP BY entity',
    values: [names],
  });
  const by = new Map(rows.map((r) => [r.entity, r.writes]));
  return names.map((n) => `${n}=${by.get(n) ?? '0'}`).join('\u0000');
}
