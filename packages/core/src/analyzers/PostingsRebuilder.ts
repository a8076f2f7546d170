import { hostname } from 'node:os';
import type pg from 'pg';
import type { Logger } from 'pino';
import { analyze, indexNextGeneration } from '../store/keywordIndex.js';
import { dropBlocks } from '../store/postingsBlockStore.js';
import {
  clearAnalyzerRunDrop,
  getAnalyzerRun,
  liveAnalyzerRuns,
  recordAnalyzerProgress,
  setAnalyzerRunState,
  type AnalyzerRunRow,
} from '../store/analyzerRunStore.js';
import { withClient } from '../store/withClient.js';
import { withTransaction } from '../store/withTransaction.js';

export interface PostingsRebuilderOptions {
  pool: pg.Pool;
  logger?: Logger;
  /** Records analyzed per batch transaction. Default 1000. */
  batchSize?: number;
  /** How often live runs are looked for (runs another process left). Default 2000 ms. */
  pollMs?: number;
  /**
   * Time between the switch and the drop of the old postings, in ms: a
   * search that read the old key just before the switch still finds its
   * postings for its later statements. Default 5000.
   */
  dropGraceMs?: number;
  /** Postings deleted per statement when a generation is dropped. Default 20000. */
  dropBatch?: number;
}

/** Arbitrary constant: advisory lock class of the run drivers (one driver per run at a time). */
const DRIVER_LOCK_CLASS = 727_311_011;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Drives the rebuilds of postings for a new analyzer (sql/000011): every
 * process running one takes each live run it can (a session advisory lock
 * per run), so a run whose process died is resumed by another, or by the
 * same after a restart, where it stopped:
 * - running: batches of records in id order, each in a transaction that
 *   writes their postings under the new key and the run's progress
 *   (a batch cut by a crash rolls back and is done again);
 * - then one transaction switches the entity to the new analyzer and key
 *   (and copies the new lengths into kdb_search.doc_len); a crash before
 *   its commit leaves the old analyzer serving and the switch is redone;
 * - dropping: after a grace period, the old postings are deleted in
 *   batches (resumed after a crash: they are the run's drop_key);
 * - a cancel (requested in the run row) ends the dual writes in one
 *   transaction and drops the new postings the same way.
 */
export class PostingsRebuilder {
  private readonly batchSize: number;
  private readonly driving = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private scanning: Promise<void> | undefined;
  private readonly tasks = new Set<Promise<void>>();

  constructor(private readonly opts: PostingsRebuilderOptions) {
    this.batchSize = opts.batchSize ?? 1000;
  }

  /** Starts looking for live runs now and every pollMs. */
  start(): void {
    const tick = () => {
      if (this.closed) return;
      this.kick();
      this.timer = setTimeout(tick, this.opts.pollMs ?? 2000);
      this.timer.unref();
    };
    tick();
  }

  /** Looks for live runs now (after a PATCH started one). */
  kick(): void {
    if (this.closed || this.scanning) return;
    this.scanning = (async () => {
      try {
        for (const run of await liveAnalyzerRuns(this.opts.pool)) {
          if (this.driving.has(run.id) || this.closed) continue;
          this.driving.add(run.id);
          const task = this.drive(run.id).finally(() => {
            this.driving.delete(run.id);
            this.tasks.delete(task);
          });
          this.tasks.add(task);
        }
      } catch (err) {
        this.opts.logger?.warn({ err }, 'analyzer runs: could not list live runs');
      } finally {
        this.scanning = undefined;
      }
    })();
  }

  /** Stops taking work and waits for the current batches; unfinished runs stay live for the next driver. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.scanning;
    await Promise.all([...this.tasks]);
  }

  /** Drives one run while holding its driver lock (on a connection of its own: the lock ends with it). */
  private async drive(id: string): Promise<void> {
    await withClient(this.opts.pool, async (lockClient) => {
      const { rows } = await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [DRIVER_LOCK_CLASS, id]);
      if (!rows[0]!.ok) return;
      try {
        let failures = 0;
        while (!this.closed) {
          try {
            if (!(await this.step(id))) return;
            failures = 0;
          } catch (err) {
            failures++;
            this.opts.logger?.warn({ err, run: id, failures }, 'analyzer run: step failed; retrying');
            if (failures >= 5) {
              await this.fail(id, (err as Error).message);
              return;
            }
            await sleep(500 * failures);
          }
        }
      } finally {
        await lockClient.query('SELECT pg_advisory_unlock($1, hashtext($2))', [DRIVER_LOCK_CLASS, id]).catch(() => undefined);
      }
    });
  }

  /** One step of a run; false when nothing is left to do. */
  private async step(id: string): Promise<boolean> {
    const run = await getAnalyzerRun(this.opts.pool, id);
    if (run.state === 'running') {
      if (run.cancelRequested) await this.cancel(run);
      else await this.batch(run);
      return true;
    }
    if (run.dropKey !== null) {
      if (run.state === 'dropping' && run.switchedAt) {
        const wait = new Date(run.switchedAt).getTime() + (this.opts.dropGraceMs ?? 5000) - Date.now();
        if (wait > 0) {
          await sleep(Math.min(wait, 1000));
          return true;
        }
      }
      await this.dropGeneration(run);
      return true;
    }
    return false;
  }

  /** Analyzes the next batch of records under the new key; switches when there is none left. */
  private async batch(seen: AnalyzerRunRow): Promise<void> {
    await withTransaction(this.opts.pool, async (client) => {
      // Run row, then entity row, then records: the order every writer and the switch take them in.
      const run = await getAnalyzerRun(client, seen.id, { lock: true });
      if (run.state !== 'running' || run.cancelRequested) return;
      if (!(await this.entityStillNext(client, run, 'FOR SHARE'))) return;
      const { rows } = await client.query<{ record_id: string; content: string }>(
        `SELECT record_id, content FROM kdb_search WHERE entity = $1 AND ($2::uuid IS NULL OR record_id > $2)
          ORDER BY record_id LIMIT $3 FOR SHARE`,
        [run.entity, run.afterId, this.batchSize],
      );
      if (rows.length === 0) {
        await this.switchIn(client, run);
        return;
      }
      const docs = rows.map((r) => analyze({ id: r.record_id, content: r.content }, run.to));
      await indexNextGeneration(client, run.toKey, docs, { replace: true });
      await recordAnalyzerProgress(client, run.id, rows[rows.length - 1]!.record_id, rows.length, `${hostname()}:${process.pid}`);
    });
  }

  /** The entity row, locked, still names this run's key as its next one; otherwise the run fails (the entity is gone). */
  private async entityStillNext(client: pg.ClientBase, run: AnalyzerRunRow, lock: 'FOR SHARE' | 'FOR UPDATE'): Promise<boolean> {
    const { rows } = await client.query<{ next_postings_key: string | null }>(`SELECT next_postings_key FROM kdb_entities WHERE name = $1 ${lock}`, [run.entity]);
    if (rows[0]?.next_postings_key === run.toKey) return true;
    await setAnalyzerRunState(client, run.id, 'failed', { dropKey: run.toKey, error: rows[0] ? 'the entity no longer expects this rebuild' : `entity "${run.entity}" was deleted` });
    return false;
  }

  /**
   * The switch, in the last batch's transaction with the entity row locked
   * FOR UPDATE (no writer of the entity is in flight, and new ones wait):
   * records not yet under the new key are analyzed now, every document's
   * new length goes into kdb_search.doc_len with the change of the total
   * in the statistics, and the entity takes the new analyzer and key.
   */
  private async switchIn(client: pg.ClientBase, run: AnalyzerRunRow): Promise<void> {
    if (!(await this.entityStillNext(client, run, 'FOR UPDATE'))) return;
    const { rows: missed } = await client.query<{ record_id: string; content: string }>(
      `SELECT s.record_id, s.content FROM kdb_search s
         LEFT JOIN kdb_postings_next_len n ON n.record_id = s.record_id AND n.key = $2
        WHERE s.entity = $1 AND n.record_id IS NULL`,
      [run.entity, run.toKey],
    );
    if (missed.length) await indexNextGeneration(client, run.toKey, missed.map((r) => analyze({ id: r.record_id, content: r.content }, run.to)), { replace: true });
    await client.query(
      `WITH changed AS (
         UPDATE kdb_search s SET doc_len = n.doc_len
           FROM kdb_postings_next_len n, kdb_search old
          WHERE n.key = $2 AND s.record_id = n.record_id AND old.record_id = n.record_id AND s.entity = $1 AND s.doc_len <> n.doc_len
          RETURNING n.doc_len - old.doc_len AS delta)
       INSERT INTO kdb_bm25_stats AS st (entity, slot, n_docs, total_len)
       SELECT $1, kdb_bm25_slot(), 0, sum(delta) FROM changed HAVING count(*) > 0
       ON CONFLICT (entity, slot) DO UPDATE SET total_len = st.total_len + EXCLUDED.total_len`,
      [run.entity, run.toKey],
    );
    await client.query(
      `UPDATE kdb_entities SET analyzer = $2, postings_key = $3, next_analyzer = NULL, next_postings_key = NULL, analyzer_run = NULL, updated_at = now() WHERE name = $1`,
      [run.entity, run.to, run.toKey],
    );
    await client.query('DELETE FROM kdb_postings_next_len WHERE key = $1', [run.toKey]);
    await setAnalyzerRunState(client, run.id, 'dropping', { dropKey: run.fromKey, switched: true });
    this.opts.logger?.info({ run: run.id, entity: run.entity, analyzer: run.to }, 'analyzer run: searches switched to the new postings');
  }

  /** Ends the dual writes (one transaction); the new postings are then dropped. */
  private async cancel(seen: AnalyzerRunRow): Promise<void> {
    await withTransaction(this.opts.pool, async (client) => {
      const run = await getAnalyzerRun(client, seen.id, { lock: true });
      if (run.state !== 'running') return;
      await client.query(
        `UPDATE kdb_entities SET next_analyzer = NULL, next_postings_key = NULL, analyzer_run = NULL, updated_at = now() WHERE name = $1 AND next_postings_key = $2`,
        [run.entity, run.toKey],
      );
      await client.query('DELETE FROM kdb_postings_next_len WHERE key = $1', [run.toKey]);
      await setAnalyzerRunState(client, run.id, 'cancelled', { dropKey: run.toKey });
    });
  }

  private async fail(id: string, error: string): Promise<void> {
    await withTransaction(this.opts.pool, async (client) => {
      const run = await getAnalyzerRun(client, id, { lock: true });
      if (run.state === 'running') {
        await client.query(`UPDATE kdb_entities SET next_analyzer = NULL, next_postings_key = NULL, analyzer_run = NULL WHERE name = $1 AND next_postings_key = $2`, [run.entity, run.toKey]);
        await client.query('DELETE FROM kdb_postings_next_len WHERE key = $1', [run.toKey]);
        await setAnalyzerRunState(client, id, 'failed', { dropKey: run.toKey, error });
      } else {
        await setAnalyzerRunState(client, id, run.state, { error });
      }
    }).catch((err: unknown) => this.opts.logger?.error({ err, run: id }, 'analyzer run: could not record its failure'));
  }

  /** Deletes the postings and term statistics of the run's drop_key, a batch per statement, then clears it. */
  private async dropGeneration(run: AnalyzerRunRow): Promise<void> {
    const key = run.dropKey!;
    for (;;) {
      if (this.closed) return;
      const { rowCount } = await this.opts.pool.query(
        'DELETE FROM kdb_postings WHERE ctid = ANY(ARRAY(SELECT ctid FROM kdb_postings WHERE entity = $1 LIMIT $2))',
        [key, this.opts.dropBatch ?? 20_000],
      );
      if (!rowCount) break;
    }
    while (!this.closed && (await dropBlocks(this.opts.pool, key, this.opts.dropBatch ?? 20_000)) > 0);
    if (this.closed) return;
    await withTransaction(this.opts.pool, async (client) => {
      await client.query('DELETE FROM kdb_bm25_terms WHERE entity = $1', [key]);
      await clearAnalyzerRunDrop(client, run.id);
    });
  }
}
