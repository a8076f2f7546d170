import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Analyzer, AnalyzerRun, AnalyzerRunState } from '@kameleondb/schemas';
import { ConflictError, NotFoundError } from '../errors.js';

/** The one home of kdb_analyzer_runs' queries (sql/000011). */

interface RunRow {
  id: string;
  entity: string;
  from_analyzer: Analyzer;
  to_analyzer: Analyzer;
  from_key: string;
  to_key: string;
  state: AnalyzerRunState;
  drop_key: string | null;
  total: string;
  processed: string;
  after_id: string | null;
  cancel_requested: boolean;
  driver: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  switched_at: Date | null;
  finished_at: Date | null;
}

/** A run as its driver sees it (the API answer plus the keys and resume point). */
export interface AnalyzerRunRow extends AnalyzerRun {
  fromKey: string;
  toKey: string;
  dropKey: string | null;
  afterId: string | null;
}

const toRun = (r: RunRow): AnalyzerRunRow => ({
  id: r.id,
  entity: r.entity,
  from: r.from_analyzer,
  to: r.to_analyzer,
  state: r.state,
  total: Number(r.total),
  processed: Number(r.processed),
  driver: r.driver,
  cancelRequested: r.cancel_requested,
  error: r.error,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  switchedAt: r.switched_at?.toISOString() ?? null,
  finishedAt: r.finished_at?.toISOString() ?? null,
  fromKey: r.from_key,
  toKey: r.to_key,
  dropKey: r.drop_key,
  afterId: r.after_id,
});

/** The public part of a run (what the API answers). */
export function publicRun(r: AnalyzerRunRow): AnalyzerRun {
  const { fromKey: _f, toKey: _t, dropKey: _d, afterId: _a, ...run } = r;
  return run;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function getAnalyzerRun(db: pg.Pool | pg.ClientBase, id: string, opts: { lock?: boolean } = {}): Promise<AnalyzerRunRow> {
  const { rows } = UUID_RE.test(id)
    ? await db.query<RunRow>(`SELECT * FROM kdb_analyzer_runs WHERE id = $1${opts.lock ? ' FOR UPDATE' : ''}`, [id])
    : { rows: [] };
  if (!rows[0]) throw new NotFoundError(`analyzer run "${id}" does not exist`, { id });
  return toRun(rows[0]);
}

export async function listAnalyzerRuns(db: pg.Pool | pg.ClientBase, entity?: string): Promise<AnalyzerRunRow[]> {
  const { rows } = await db.query<RunRow>('SELECT * FROM kdb_analyzer_runs WHERE $1::text IS NULL OR entity = $1 ORDER BY created_at DESC LIMIT 100', [entity ?? null]);
  return rows.map(toRun);
}

/** Runs with work left (rebuilding, or postings to drop), oldest first. */
export async function liveAnalyzerRuns(db: pg.Pool | pg.ClientBase): Promise<AnalyzerRunRow[]> {
  const { rows } = await db.query<RunRow>('SELECT * FROM kdb_analyzer_runs WHERE finished_at IS NULL OR drop_key IS NOT NULL ORDER BY created_at');
  return rows.map(toRun);
}

/**
 * In the entity PATCH's transaction (entity row locked FOR UPDATE): starts a
 * rebuild of the entity's postings for `to` under a new generation key.
 * From the commit on, every writer of the entity also indexes under that key.
 */
export async function startAnalyzerRun(
  client: pg.ClientBase,
  entity: { name: string; analyzer: Analyzer; postingsKey: string; postingsGen: number; running: string | null },
  to: Analyzer,
): Promise<AnalyzerRunRow> {
  if (entity.running) {
    throw new ConflictError(`entity "${entity.name}" is already being rebuilt for another analyzer (run ${entity.running}); cancel it or wait for it to end`, {
      entity: entity.name,
      activeRunId: entity.running,
    });
  }
  const id = randomUUID();
  const gen = entity.postingsGen + 1;
  const toKey = `${entity.name}#${gen}`;
  const { rows: count } = await client.query<{ n: string }>('SELECT count(*) AS n FROM kdb_search WHERE entity = $1', [entity.name]);
  await client.query(
    'UPDATE kdb_entities SET postings_gen = $2, next_analyzer = $3, next_postings_key = $4, analyzer_run = $5, updated_at = now() WHERE name = $1',
    [entity.name, gen, to, toKey, id],
  );
  const { rows } = await client.query<RunRow>(
    `INSERT INTO kdb_analyzer_runs (id, entity, from_analyzer, to_analyzer, from_key, to_key, state, total)
     VALUES ($1, $2, $3, $4, $5, $6, 'running', $7) RETURNING *`,
    [id, entity.name, entity.analyzer, to, entity.postingsKey, toKey, Number(count[0]!.n)],
  );
  return toRun(rows[0]!);
}

export async function requestAnalyzerRunCancel(db: pg.Pool | pg.ClientBase, id: string): Promise<AnalyzerRunRow> {
  const run = await getAnalyzerRun(db, id);
  if (run.state !== 'running') throw new ConflictError(`analyzer run ${id} is ${run.state}; only a running run can be cancelled (searches switch to the new postings at the end of running)`, { id, state: run.state });
  const { rows } = await db.query<RunRow>(`UPDATE kdb_analyzer_runs SET cancel_requested = true, updated_at = now() WHERE id = $1 AND state = 'running' RETURNING *`, [id]);
  if (!rows[0]) return getAnalyzerRun(db, id);
  return toRun(rows[0]);
}

/** A batch's progress, in the batch's transaction: it commits with the postings it counts. */
export async function recordAnalyzerProgress(client: pg.ClientBase, id: string, afterId: string, processed: number, driver: string): Promise<void> {
  await client.query('UPDATE kdb_analyzer_runs SET after_id = $2, processed = processed + $3, driver = $4, updated_at = now() WHERE id = $1', [id, afterId, processed, driver]);
}

/** Moves a run to `state` (dropping: postings of dropKey left to remove; finished states set finished_at). */
export async function setAnalyzerRunState(
  client: pg.ClientBase,
  id: string,
  state: AnalyzerRunState,
  opts: { dropKey?: string | null; error?: string | null; switched?: boolean } = {},
): Promise<void> {
  const finished = state === 'completed' || state === 'cancelled' || state === 'failed';
  await client.query(
    `UPDATE kdb_analyzer_runs SET state = $2, drop_key = CASE WHEN $3 THEN $4 ELSE drop_key END, error = coalesce($5, error),
            switched_at = CASE WHEN $6 THEN now() ELSE switched_at END,
            finished_at = CASE WHEN $7 THEN coalesce(finished_at, now()) ELSE finished_at END, updated_at = now()
      WHERE id = $1`,
    [id, state, opts.dropKey !== undefined, opts.dropKey ?? null, opts.error ?? null, !!opts.switched, finished],
  );
}

/** The old or abandoned postings of a run are gone. */
export async function clearAnalyzerRunDrop(client: pg.ClientBase, id: string): Promise<void> {
  await client.query(`UPDATE kdb_analyzer_runs SET drop_key = NULL, state = CASE WHEN state = 'dropping' THEN 'completed' ELSE state END,
                             finished_at = coalesce(finished_at, now()), updated_at = now() WHERE id = $1`, [id]);
}
