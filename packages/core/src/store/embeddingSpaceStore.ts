import type pg from 'pg';
import { ACTIVATE_MODES, SPACE_STATES, type EmbeddingSpace, type SpaceState } from '@kameleondb/schemas';
export { SPACE_STATES, type EmbeddingSpace, type SpaceState };
import { modelKeyOf } from '../embedding/EmbeddingProvider.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { withTransaction } from './withTransaction.js';

/**
 * Embedding spaces (`kdb_embedding_spaces`, sql/000010_embedding_spaces.sql):
 * every statement on that table lives here, with the name of each space's
 * vector table. A space's vectors live in `kdb_vectors_<id>`; search reads
 * the active space's table only.
 */

// One list of activate modes, shared with the request schema of POST /v1/spaces.
export { ACTIVATE_MODES };
export type ActivateMode = (typeof ACTIVATE_MODES)[number];


/** What a space is made of: the provider settings a process combines with the secrets of its environment. */
export interface SpaceSeed {
  provider: string;
  model: string;
  dimensions: number;
  baseUrl?: string | null | undefined;
}

interface SpaceRow {
  id: number;
  model_key: string;
  provider: string;
  model: string;
  dimensions: number;
  base_url: string | null;
  state: SpaceState;
  activate: ActivateMode;
  build_run_id: string | null;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
}

const toSpace = (r: SpaceRow): EmbeddingSpace => ({
  id: r.id,
  modelKey: r.model_key,
  provider: r.provider,
  model: r.model,
  dimensions: r.dimensions,
  baseUrl: r.base_url,
  state: r.state,
  activate: r.activate,
  buildRunId: r.build_run_id,
  createdAt: r.created_at.toISOString(),
  activatedAt: r.activated_at?.toISOString() ?? null,
  retiredAt: r.retired_at?.toISOString() ?? null,
});

/**
 * The vector table of space `id`. Table names take no parameters; this one
 * is built from the integer id only, checked here, never from input.
 */
export function vectorTable(id: number): string {
  if (!Number.isInteger(id) || id < 1 || id > 2_147_483_647) throw new Error(`embedding space id must be a positive integer, got ${String(id)}`);
  return `kdb_vectors_${id}`;
}

/** Arbitrary constant: the transaction lock of space creation and of the switch of the active space. */
const SPACE_LOCK_KEY = 727_311_019;

export async function listSpaces(db: pg.Pool | pg.ClientBase): Promise<EmbeddingSpace[]> {
  const { rows } = await db.query<SpaceRow>('SELECT * FROM kdb_embedding_spaces ORDER BY id');
  return rows.map(toSpace);
}

/** The active space, or null on a database where none was seeded yet. */
export async function activeSpace(db: pg.Pool | pg.ClientBase): Promise<EmbeddingSpace | null> {
  const { rows } = await db.query<SpaceRow>({ name: 'kdb_active_space', text: `SELECT * FROM kdb_embedding_spaces WHERE state = 'active'` });
  return rows[0] ? toSpace(rows[0]) : null;
}

export async function spaceByKey(db: pg.Pool | pg.ClientBase, modelKey: string): Promise<EmbeddingSpace | null> {
  const { rows } = await db.query<SpaceRow>('SELECT * FROM kdb_embedding_spaces WHERE model_key = $1', [modelKey]);
  return rows[0] ? toSpace(rows[0]) : null;
}

/**
 * Locks space `id`'s row for the rest of the transaction, shared, and
 * returns its state (null: the space is gone). Vector writes take it before
 * they lock search rows; the switch and the drop take it exclusively first,
 * so a write either lands before the switch recomputes the statuses, or sees
 * the new state.
 */
/**
 * The active space, its row locked shared for the rest of the transaction as
 * lockSpaceShared does (null: none, or a switch committed while this waited:
 * the statement's snapshot then saw no active row). An ingest transaction
 * writing cached vectors takes it, so a switch waits for its commit and
 * recomputes the statuses of its rows.
 */
export async function lockActiveSpaceShared(client: pg.ClientBase): Promise<{ id: number; modelKey: string } | null> {
  const { rows } = await client.query<{ id: number; model_key: string }>(`SELECT id, model_key FROM kdb_embedding_spaces WHERE state = 'active' FOR SHARE`);
  return rows[0] ? { id: rows[0].id, modelKey: rows[0].model_key } : null;
}

export async function lockSpaceShared(client: pg.ClientBase, id: number): Promise<SpaceState | null> {
  const { rows } = await client.query<{ state: SpaceState }>('SELECT state FROM kdb_embedding_spaces WHERE id = $1 FOR SHARE', [id]);
  return rows[0]?.state ?? null;
}

export function seedKey(seed: SpaceSeed): string {
  return modelKeyOf(seed.provider, seed.model, seed.dimensions);
}

/**
 * Creates a space and its vector table in the caller's transaction. The
 * table and the row commit together: a process dying midway leaves neither.
 */
export async function insertSpace(client: pg.ClientBase, seed: SpaceSeed, state: SpaceState, activate: ActivateMode = 'auto'): Promise<EmbeddingSpace> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SPACE_LOCK_KEY]);
  const key = seedKey(seed);
  if (await spaceByKey(client, key)) throw new ValidationError(`embedding space "${key}" exists already`, { space: key });
  const { rows } = await client.query<SpaceRow>(
    `INSERT INTO kdb_embedding_spaces (model_key, provider, model, dimensions, base_url, state, activate, activated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'active' THEN now() END) RETURNING *`,
    [key, seed.provider, seed.model, seed.dimensions, seed.baseUrl ?? null, state, activate],
  );
  const space = toSpace(rows[0]!);
  await client.query('SELECT kdb_create_vector_table($1, $2)', [space.id, space.dimensions]);
  // Vector writes change vector results: they bump the result versions (sql/000012_result_versions.sql).
  await client.query('SELECT kdb_watch_result_versions($1::regclass)', [vectorTable(space.id)]);
  return space;
}

/**
 * On a database without any space, makes `seed` the active one (the first
 * start of a deployment: KDB_EMBEDDING_*). Otherwise changes nothing. Returns
 * the active space and whether it was created now.
 */
export async function seedSpace(client: pg.ClientBase, seed: SpaceSeed): Promise<{ active: EmbeddingSpace | null; seeded: boolean }> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SPACE_LOCK_KEY]);
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM kdb_embedding_spaces');
  if (rows[0]!.n > 0) return { active: await activeSpace(client), seeded: false };
  return { active: await insertSpace(client, seed, 'active'), seeded: true };
}

/**
 * The space of `seed`'s model key; on a database without any space, `seed`
 * becomes the active one first (an embedded pipeline or a test that starts
 * no process). Throws when other spaces exist but not this one.
 */
export async function spaceForSeed(pool: pg.Pool, seed: SpaceSeed): Promise<EmbeddingSpace> {
  const key = seedKey(seed);
  const found = await spaceByKey(pool, key);
  if (found) return found;
  await withTransaction(pool, (c) => seedSpace(c, seed));
  const again = await spaceByKey(pool, key);
  if (again) return again;
  throw new NotFoundError(`embedding space "${key}" does not exist; create it with POST /v1/spaces`, { space: key });
}

/** Records the reindex run building space `id` (in the transaction that creates the run). */
export async function setBuildRun(client: pg.ClientBase, id: number, runId: string): Promise<void> {
  await client.query('UPDATE kdb_embedding_spaces SET build_run_id = $2 WHERE id = $1', [id, runId]);
}

/**
 * Makes space `id` the active one in the caller's transaction: the active
 * space is retired first (the partial unique index allows one active), then
 * `id` activated. Both rows are locked exclusively before anything else, so
 * vector writes in flight (lockSpaceShared) commit first and later ones see
 * the switch. Returns the retired space's id, or null when `id` was active
 * already or is gone.
 */
export async function switchActive(client: pg.ClientBase, id: number): Promise<{ retired: number | null; switched: boolean }> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SPACE_LOCK_KEY]);
  const { rows } = await client.query<{ id: number; state: SpaceState }>(
    `SELECT id, state FROM kdb_embedding_spaces WHERE id = $1 OR state = 'active' ORDER BY id FOR UPDATE`,
    [id],
  );
  const target = rows.find((r) => r.id === id);
  if (!target || target.state === 'active') return { retired: null, switched: false };
  const old = rows.find((r) => r.state === 'active');
  if (old) await client.query(`UPDATE kdb_embedding_spaces SET state = 'retired', retired_at = now() WHERE id = $1`, [old.id]);
  await client.query(`UPDATE kdb_embedding_spaces SET state = 'active', activated_at = now(), retired_at = NULL WHERE id = $1`, [id]);
  return { retired: old?.id ?? null, switched: true };
}

/**
 * Cancels segment builds running on space `id`'s table (a drop would wait
 * for them: an HNSW build takes minutes on a large space). The segment
 * manager retries its step; the table goes with what it had built.
 */
export async function cancelSegmentBuilds(db: pg.Pool | pg.ClientBase, id: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(pg_cancel_backend(p.pid))::int AS n FROM pg_stat_progress_create_index p
      WHERE p.relid = to_regclass($1) AND p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [vectorTable(id)],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Removes space `id` (never the active one) and its vector table with its
 * segment indexes, in the caller's transaction: a process dying midway
 * leaves the space whole. Its catalog rows go by cascade; the embedding
 * cache keeps its entries (a space made again later finds them).
 */
export async function deleteSpaceIn(client: pg.ClientBase, id: number): Promise<boolean> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SPACE_LOCK_KEY]);
  const { rows } = await client.query<{ state: SpaceState }>('SELECT state FROM kdb_embedding_spaces WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0] || rows[0].state === 'active') return false;
  await client.query('DELETE FROM kdb_embedding_spaces WHERE id = $1', [id]);
  await client.query(`DROP TABLE IF EXISTS ${vectorTable(id)}`);
  return true;
}
