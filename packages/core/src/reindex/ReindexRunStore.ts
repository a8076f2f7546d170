import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/createRedis.js';
import type pg from 'pg';
import { KdbError } from '../errors.js';
import { TimeoutError, withTimeout } from '../util/withTimeout.js';
import { withTransaction } from '../store/withTransaction.js';
import type { RunState, ReindexRun } from '@kameleondb/schemas';

// The run's answer shape is shared with the typed client: one definition, in @kameleondb/schemas.
export { RUN_STATES, type RunState, type ReindexRun } from '@kameleondb/schemas';
const FINISHED = new Set<RunState>(['completed', 'cancelled', 'failed']);
export const isFinished = (s: RunState) => FINISHED.has(s);


/**
 * The error of a run whose live state Redis lost (FLUSHALL, a restart
 * without persistence). Its row in `kdb_reindex_runs` is all that remains;
 * the rows it did not reach keep their state, and a new run picks them up.
 */
export const LOST_IN_REDIS = 'lost in Redis: its live state vanished (FLUSHALL or a restart without persistence); start a new run for the rows it did not reach';

/** The error of a run whose creating transaction rolled back or never ended (its process died): nothing it was created for changed. */
export const NEVER_COMMITTED = 'its creation never committed (the request failed or its process died before the commit); nothing was changed: start a new run if still wanted';

/**
 * Advisory lock (transaction-scoped) held by every run creation from its
 * check to its commit: creators take turns, so the check of live runs in
 * `kdb_reindex_runs` and the claim are one step, and a planner waiting on it
 * knows that its run's creation has committed or never will.
 */
const RUN_CREATION_LOCK = 4_206_921_018;

export interface RunOptions {
  /** null: every entity. */
  entity: string | null;
  force: boolean;
  /** Recompute each row's text first (an entity's embedFields changed); default false. */
  recompute?: boolean;
  /** Model key of the space to embed into (the build of a space); default: the active space. */
  space?: string | null;
}

/** A transaction in which runs are created (ReindexRunStore.inCreation); other writes made on `client` commit or roll back with them. */
export interface RunCreation {
  client: pg.PoolClient;
  /** The live run that a run of `entity`'s scope would conflict with (an entity's run and a run for all block each other), or null. */
  conflict(entity: string | null): Promise<ReindexRun | null>;
  /** Creates a queued run, or returns the live run in the way. */
  claim(opts: RunOptions): Promise<{ run: ReindexRun } | { conflict: ReindexRun }>;
}

export interface ProgressCounts {
  processed: number;
  embedded: number;
  cached: number;
  failed: number;
}

/**
 * Helpers shared by the scripts that touch one run (KEYS: run hash, its
 * jobs set, the active-run hash). Terminal transitions release the scope's
 * active slot and expire the live state after a week.
 */
const RUN_LUA = `
  local function finished_state()
    local st = redis.call('HGET', KEYS[1], 'state')
    if not st then return 'missing' end
    if st == 'completed' or st == 'cancelled' or st == 'failed' then return st end
    return nil
  end
  local function finish(state, now)
    redis.call('HSET', KEYS[1], 'state', state, 'finishedAt', now, 'updatedAt', now)
    local scope = redis.call('HGET', KEYS[1], 'scope')
    if scope and redis.call('HGET', KEYS[3], scope) == redis.call('HGET', KEYS[1], 'id') then redis.call('HDEL', KEYS[3], scope) end
    redis.call('EXPIRE', KEYS[1], 604800)
    redis.call('EXPIRE', KEYS[2], 604800)
  end
  local function complete_if_done(now)
    if redis.call('HGET', KEYS[1], 'plannerDone') == '1'
       and tonumber(redis.call('HGET', KEYS[1], 'processed')) >= tonumber(redis.call('HGET', KEYS[1], 'planned')) then
      finish('completed', now)
      return true
    end
    return false
  end
`;

const SCRIPTS = {
  // KEYS: active, run hash, runs zset, run-key prefix; ARGV: scope, id, createdMs, field/value pairs (JSON)
  create: `
    local scope = ARGV[1]
    local function live(id) return id and redis.call('EXISTS', KEYS[4] .. id) == 1 end
    if scope == '*' then
      for _, id in ipairs(redis.call('HVALS', KEYS[1])) do if live(id) then return id end end
    else
      local all = redis.call('HGET', KEYS[1], '*')
      if live(all) then return all end
      local mine = redis.call('HGET', KEYS[1], scope)
      if live(mine) then return mine end
    end
    redis.call('HSET', KEYS[1], scope, ARGV[2])
    redis.call('HSET', KEYS[2], unpack(cjson.decode(ARGV[4])))
    redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -201)
    return ''`,
  // ARGV: jobId, processed, embedded, cached, failed, nowMs
  progress: `${RUN_LUA}
    local done = finished_state()
    if done then return done end
    if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 'duplicate' end
    redis.call('HINCRBY', KEYS[1], 'processed', ARGV[2])
    redis.call('HINCRBY', KEYS[1], 'embedded', ARGV[3])
    redis.call('HINCRBY', KEYS[1], 'cached', ARGV[4])
    redis.call('HINCRBY', KEYS[1], 'failed', ARGV[5])
    redis.call('HSET', KEYS[1], 'updatedAt', ARGV[6])
    if complete_if_done(ARGV[6]) then return 'completed' end
    return 'ok'`,
  // ARGV: nowMs
  finishPlanning: `${RUN_LUA}
    local done = finished_state()
    if done then return done end
    redis.call('HSET', KEYS[1], 'plannerDone', '1', 'state', 'running', 'updatedAt', ARGV[1])
    redis.call('HSET', KEYS[1], 'total', redis.call('HGET', KEYS[1], 'planned'))
    if complete_if_done(ARGV[1]) then return 'completed' end
    return 'ok'`,
  // ARGV: state, nowMs, error
  finish: `${RUN_LUA}
    local done = finished_state()
    if done then return done end
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) end
    finish(ARGV[1], ARGV[2])
    return ARGV[1]`,
};

/**
 * Live state of reindex runs in Redis (one hash per run, updated atomically
 * by Lua scripts), the per-scope "one active run" slot, and a row per run in
 * Postgres (`kdb_reindex_runs`), written when the run is created, at each
 * change of state and when it ends. A run whose row is live but whose Redis
 * hash is gone was lost by Redis: the first read that sees this ends it as
 * `failed` with LOST_IN_REDIS, so it never turns into a 404. Reads wait for
 * Redis at most `redisTimeoutMs`, then answer from Postgres alone.
 */
export class ReindexRunStore {
  private readonly base: string;
  /** Pub/sub channel on which cancellations are announced. */
  readonly cancelChannel: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly pool: pg.Pool,
    /** The BullMQ prefix, so the keys share its hash tag. */
    prefix: string,
    private readonly redisTimeoutMs = 2000,
  ) {
    // Not `${prefix}:reindex`: that is the planner queue's own key space.
    this.base = `${prefix}:reindex-runs`;
    this.cancelChannel = `${this.base}:cancel`;
  }

  private runKey = (id: string) => `${this.base}:run:${id}`;
  private jobsKey = (id: string) => `${this.base}:run:${id}:jobs`;
  private activeKey = () => `${this.base}:active`;
  private keys3 = (id: string) => [this.runKey(id), this.jobsKey(id), this.activeKey()];

  /**
   * Refuses a change of run state while Redis is not connected (after
   * waiting `redisTimeoutMs` for it): queued in ioredis' offline queue, it
   * would run whenever Redis returns, after the caller was told it failed
   * (a run taking its scope's slot with no planner).
   */
  private async requireConnected(what: string): Promise<void> {
    if (this.redis.status === 'ready') return;
    let onReady = () => undefined as void;
    const ready = new Promise<void>((resolve) => {
      onReady = resolve;
      this.redis.once('ready', onReady);
    });
    try {
      await withTimeout(ready, this.redisTimeoutMs, 'Redis');
    } catch {
      throw new KdbError('unavailable', `Redis is not connected (${this.redis.status}): cannot ${what} until it is back`, { details: { service: 'Redis' } });
    } finally {
      this.redis.off('ready', onReady);
    }
  }

  /** Creates a queued run in its own transaction, or returns `{ conflict }` with the id of the live run in the way. */
  async create(opts: RunOptions): Promise<{ run: ReindexRun } | { conflict: string }> {
    return this.inCreation(async (tx) => {
      const claimed = await tx.claim(opts);
      return 'conflict' in claimed ? { conflict: claimed.conflict.id } : claimed;
    });
  }

  /**
   * Runs `fn` in one Postgres transaction holding the run-creation lock.
   * A run is claimed in it in this order: the check of live rows in
   * `kdb_reindex_runs`, the Redis hash and slot, the Postgres row; the
   * commit makes it real. Readers meanwhile see the hash without the row,
   * never the row without its hash (which means lost). A run claimed in a
   * transaction that fails is ended failed with NEVER_COMMITTED; if the
   * process dies instead, its planner (awaitCreation) or the next claim of
   * its scope ends it so.
   */
  async inCreation<T>(fn: (tx: RunCreation) => Promise<T>): Promise<T> {
    await this.requireConnected('start a reindex run');
    const claimed: string[] = [];
    try {
      return await withTransaction(this.pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [RUN_CREATION_LOCK]);
        return fn({
          client,
          conflict: (entity) => this.liveConflict(client, entity),
          claim: async (opts) => {
            const r = await this.claim(client, opts);
            if ('run' in r) claimed.push(r.run.id);
            return r;
          },
        });
      });
    } catch (err) {
      for (const id of claimed) await withTimeout(this.finish(id, 'failed', NEVER_COMMITTED), this.redisTimeoutMs, 'Redis (end of the run)').catch(() => undefined);
      throw err;
    }
  }

  private async liveConflict(client: pg.PoolClient, entity: string | null): Promise<ReindexRun | null> {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM kdb_reindex_runs
        WHERE finished_at IS NULL AND ($1::text IS NULL OR entity IS NULL OR entity = $1) ORDER BY created_at`,
      [entity],
    );
    for (const { id } of rows) {
      // Redis has the last word on a live row: it may have been lost there (get ends it) or ended with its mirror behind.
      const run = await this.get(id);
      if (run && !isFinished(run.state)) return run;
      if (run && run.finishedAt && run.error !== LOST_IN_REDIS) await this.persist(id);
    }
    return null;
  }

  private async claim(client: pg.PoolClient, opts: RunOptions): Promise<{ run: ReindexRun } | { conflict: ReindexRun }> {
    const live = await this.liveConflict(client, opts.entity);
    if (live) return { conflict: live };
    const id = randomUUID();
    const now = Date.now();
    const fields = {
      id,
      scope: opts.entity ?? '*',
      entity: opts.entity ?? '',
      force: opts.force ? '1' : '0',
      recompute: opts.recompute ? '1' : '0',
      space: opts.space ?? '',
      state: 'queued',
      total: '0',
      planned: '0',
      processed: '0',
      embedded: '0',
      cached: '0',
      failed: '0',
      page: '0',
      cursor: '',
      plannerDone: '0',
      createdAt: String(now),
      updatedAt: String(now),
    };
    const takeSlot = async () =>
      (await this.redisRead(this.redis.eval(
        SCRIPTS.create,
        4,
        this.activeKey(),
        this.runKey(id),
        `${this.base}:runs`,
        `${this.base}:run:`,
        fields.scope,
        id,
        String(now),
        JSON.stringify(Object.entries(fields).flat()),
      ))) as string;
    let holder = await takeSlot();
    // Creators take turns under the lock, so a slot holder without its row is a run whose creation died before the commit.
    if (holder && !(await client.query('SELECT 1 FROM kdb_reindex_runs WHERE id = $1', [holder])).rowCount) {
      await this.finish(holder, 'failed', NEVER_COMMITTED);
      holder = await takeSlot();
    }
    if (holder) {
      const run = await this.get(holder);
      if (run) return { conflict: run };
      throw new KdbError('unavailable', `reindex run ${holder} holds the slot of ${opts.entity ? `entity "${opts.entity}"` : 'all entities'} but cannot be read; try again`);
    }
    try {
      await client.query(
        `INSERT INTO kdb_reindex_runs (id, entity, force, recompute, space, state, total, processed, embedded, cached, failed, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $6, 'queued', 0, 0, 0, 0, 0, $5, $5)`,
        [id, opts.entity, opts.force, opts.recompute ?? false, new Date(now).toISOString(), opts.space ?? null],
      );
    } catch (err) {
      await this.finish(id, 'failed', `could not record the run in Postgres: ${(err as Error).message}`).catch(() => undefined);
      throw err;
    }
    return { run: this.toRun(await this.redis.hgetall(this.runKey(id))) };
  }

  /**
   * Waits until the transaction that created run `id` has ended and tells
   * whether it committed. One that did not is ended failed here: what it was
   * created for (an entity's embedFields) rolled back with it.
   */
  async awaitCreation(id: string): Promise<boolean> {
    // A statement of its own: the lock is released when it ends, and the next statement's snapshot sees the commit.
    await this.pool.query('SELECT pg_advisory_xact_lock_shared($1)', [RUN_CREATION_LOCK]);
    if ((await this.pool.query('SELECT 1 FROM kdb_reindex_runs WHERE id = $1', [id])).rowCount) return true;
    await this.finish(id, 'failed', NEVER_COMMITTED);
    return false;
  }

  private redisRead<T>(p: Promise<T>): Promise<T> {
    return withTimeout(p, this.redisTimeoutMs, 'Redis (reindex run state)');
  }

  /** Ends a live run whose Redis state is gone; returns it as stored. */
  private async markLost(id: string): Promise<ReindexRun | null> {
    const { rows } = await this.pool.query<HistoryRow>(
      `UPDATE kdb_reindex_runs SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
        WHERE id = $1 AND finished_at IS NULL RETURNING *`,
      [id, LOST_IN_REDIS],
    );
    if (rows[0]) return fromHistory(rows[0]);
    const again = await this.pool.query<HistoryRow>('SELECT * FROM kdb_reindex_runs WHERE id = $1', [id]);
    return again.rows[0] ? fromHistory(again.rows[0]) : null;
  }

  /**
   * Ends every live run of `kdb_reindex_runs` that Redis no longer holds
   * (run by workers periodically, so a lost run ends even if nobody asks).
   * Returns how many it ended.
   */
  async failLostRuns(): Promise<number> {
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM kdb_reindex_runs WHERE finished_at IS NULL');
    if (rows.length === 0) return 0;
    const pipe = this.redis.pipeline();
    // HEXISTS of `id`, not EXISTS: a planner writing its cursor after a FLUSHALL recreates a hash without it.
    for (const r of rows) pipe.hexists(this.runKey(r.id), 'id');
    const exists = ((await this.redisRead(pipe.exec())) ?? []).map(([err, n]) => (err ? 1 : Number(n)));
    let n = 0;
    for (const [i, r] of rows.entries()) {
      if (exists[i] === 0 && (await this.markLost(r.id))?.error === LOST_IN_REDIS) n += 1;
    }
    return n;
  }

  /** Mirrors a live run's state into its Postgres row (never over an ended one). */
  private async mirror(id: string, state: RunState, total: number, startedAt?: string): Promise<void> {
    await this.pool.query(
      `UPDATE kdb_reindex_runs SET state = $2, total = $3, started_at = COALESCE($4, started_at), updated_at = now()
        WHERE id = $1 AND finished_at IS NULL`,
      [id, state, total, startedAt ?? null],
    );
  }

  private toRun(h: Record<string, string>): ReindexRun {
    const n = (k: string) => Number(h[k] ?? 0);
    const iso = (k: string) => (h[k] ? new Date(Number(h[k])).toISOString() : null);
    const started = h.startedAt ? Number(h.startedAt) : null;
    const end = h.finishedAt ? Number(h.finishedAt) : Date.now();
    const seconds = started ? Math.max((end - started) / 1000, 0.001) : 0;
    const rate = seconds ? n('processed') / seconds : 0;
    const total = Math.max(n('total'), n('planned'));
    const state = h.state as RunState;
    return {
      id: h.id!,
      entity: h.entity || null,
      force: h.force === '1',
      recompute: h.recompute === '1',
      space: h.space || null,
      state,
      total,
      planned: n('planned'),
      processed: n('processed'),
      embedded: n('embedded'),
      cached: n('cached'),
      failed: n('failed'),
      createdAt: iso('createdAt')!,
      startedAt: iso('startedAt'),
      updatedAt: iso('updatedAt')!,
      finishedAt: iso('finishedAt'),
      error: h.error || null,
      rate: Math.round(rate * 10) / 10,
      etaSeconds: isFinished(state) ? 0 : rate > 0 ? Math.round((total - n('processed')) / rate) : null,
    };
  }

  /** Planner position: the last record id enqueued, the next page number, and the last id the run covers (null: all). */
  async plannerPosition(id: string): Promise<{ cursor: string | null; page: number; upTo: string | null }> {
    const [cursor, page, upTo] = await this.redis.hmget(this.runKey(id), 'cursor', 'page', 'upTo');
    return { cursor: cursor || null, page: Number(page ?? 0), upTo: upTo || null };
  }

  /** Fixes the last record id the run's planner covers (a space build: later rows are enqueued for the space by their writes). */
  async setPlannerBound(id: string, upTo: string): Promise<void> {
    await this.redis.hset(this.runKey(id), 'upTo', upTo);
  }

  async get(id: string): Promise<ReindexRun | null> {
    let redisAnswered = true;
    try {
      const h = await this.redisRead(this.redis.hgetall(this.runKey(id)));
      if (h.id) return this.toRun(h);
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      // Redis away: the Postgres row is what is known (its counts lag the live ones).
      redisAnswered = false;
    }
    const { rows } = await this.pool.query<HistoryRow>('SELECT * FROM kdb_reindex_runs WHERE id::text = $1', [id]);
    if (!rows[0]) return null;
    if (redisAnswered && rows[0].finished_at === null) return this.markLost(id);
    return fromHistory(rows[0]);
  }

  /** Recent runs, newest first: live ones from Redis, older ones from Postgres history. */
  async list(limit = 20): Promise<ReindexRun[]> {
    const recent = 'SELECT * FROM kdb_reindex_runs ORDER BY created_at DESC LIMIT $1';
    let { rows } = await this.pool.query<HistoryRow>(recent, [limit]);
    let live: ReindexRun[] = [];
    try {
      live = await this.redisRead(
        (async () => {
          const ids = await this.redis.zrevrange(`${this.base}:runs`, 0, limit - 1);
          // Live rows of Postgres too: one missing from Redis is a lost run.
          for (const r of rows) if (r.finished_at === null && !ids.includes(r.id)) ids.push(r.id);
          const pipe = this.redis.pipeline();
          for (const id of ids) pipe.hgetall(this.runKey(id));
          return ((await pipe.exec()) ?? []).map(([, h]) => h as Record<string, string>).filter((h) => h.id).map((h) => this.toRun(h));
        })(),
      );
      const inRedis = new Set(live.map((r) => r.id));
      const lost = rows.filter((r) => r.finished_at === null && !inRedis.has(r.id));
      for (const r of lost) await this.markLost(r.id);
      if (lost.length) ({ rows } = await this.pool.query<HistoryRow>(recent, [limit]));
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
    }
    const seen = new Set(live.map((r) => r.id));
    return [...live, ...rows.map(fromHistory).filter((r) => !seen.has(r.id))]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit);
  }

  /**
   * Deletes finished runs (completed, cancelled, failed) that ended more
   * than `olderThanMs` ago, from Redis and `kdb_reindex_runs`; live runs are
   * never touched (a live row has no `finished_at`). Redis goes first: a
   * process dying in between leaves rows that read as finished history
   * and the next clean deletes. Returns how many runs it deleted.
   */
  async clean(olderThanMs: number): Promise<number> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM kdb_reindex_runs WHERE finished_at IS NOT NULL AND finished_at < now() - make_interval(secs => $1 / 1000.0)`,
      [olderThanMs],
    );
    const ids = rows.map((r) => r.id);
    if (ids.length === 0) return 0;
    await this.requireConnected('delete reindex runs');
    for (let i = 0; i < ids.length; i += 500) {
      const slice = ids.slice(i, i + 500);
      const pipe = this.redis.pipeline();
      pipe.zrem(`${this.base}:runs`, ...slice);
      pipe.del(...slice.flatMap((id) => [this.runKey(id), this.jobsKey(id)]));
      await this.redisRead(pipe.exec());
    }
    const deleted = await this.pool.query('DELETE FROM kdb_reindex_runs WHERE id = ANY($1::uuid[]) AND finished_at IS NOT NULL', [ids]);
    return deleted.rowCount ?? 0;
  }

  /** Runs not ended, from Redis' active slots and the live rows of Postgres. Throws a TimeoutError when Redis does not answer. */
  async active(): Promise<ReindexRun[]> {
    const slots = Object.values(await this.redisRead(this.redis.hgetall(this.activeKey())));
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM kdb_reindex_runs WHERE finished_at IS NULL');
    const ids = [...new Set([...slots, ...rows.map((r) => r.id)])];
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    return runs.filter((r): r is ReindexRun => r !== null && !isFinished(r.state));
  }

  async markPlanning(id: string, estimatedTotal: number): Promise<void> {
    const now = String(Date.now());
    await this.redis.hset(this.runKey(id), 'state', 'planning', 'total', String(estimatedTotal), 'startedAt', now, 'updatedAt', now);
    await this.mirror(id, 'planning', estimatedTotal, new Date(Number(now)).toISOString());
  }

  /** Records one planned page: its rows and the new cursor, atomically. */
  async advancePlanner(id: string, p: { cursor: string; page: number; planned: number }): Promise<void> {
    await this.redis
      .multi()
      .hincrby(this.runKey(id), 'planned', p.planned)
      .hset(this.runKey(id), 'cursor', p.cursor, 'page', String(p.page), 'updatedAt', String(Date.now()))
      .exec();
  }

  /** Marks planning done; completes the run when every planned row is processed already. */
  async finishPlanning(id: string): Promise<string> {
    const r = (await this.redis.eval(SCRIPTS.finishPlanning, 3, ...this.keys3(id), String(Date.now()))) as string;
    if (r === 'completed') await this.persist(id);
    else if (r === 'ok') await this.mirror(id, 'running', Number(await this.redis.hget(this.runKey(id), 'total')));
    return r;
  }

  /**
   * Adds a finished embed job's counts, once per job id (a redelivered job
   * is not counted twice). Returns 'completed' when this finished the run.
   */
  async recordProgress(id: string, jobId: string, c: ProgressCounts): Promise<string> {
    const r = (await this.redis.eval(
      SCRIPTS.progress,
      3,
      ...this.keys3(id),
      jobId,
      String(c.processed),
      String(c.embedded),
      String(c.cached),
      String(c.failed),
      String(Date.now()),
    )) as string;
    if (r === 'completed') await this.persist(id);
    return r;
  }

  /** Ends a run as cancelled (flag + pub/sub) or failed. Returns the run as it ended. */
  async finish(id: string, state: 'cancelled' | 'failed', error = ''): Promise<ReindexRun | null> {
    // A cancel is a caller's request: answer it now. A failure found by a worker may wait for Redis.
    if (state === 'cancelled') await this.requireConnected('cancel a reindex run');
    const r = (await this.redis.eval(SCRIPTS.finish, 3, ...this.keys3(id), state, String(Date.now()), error)) as string;
    if (r === 'missing') return this.get(id);
    if (r === state) {
      if (state === 'cancelled') await this.redis.publish(this.cancelChannel, id);
      await this.persist(id);
    }
    return this.get(id);
  }

  /** Which of these runs are cancelled (or otherwise over): one round trip. */
  async finishedAmong(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.runKey(id), 'state');
    const states = ((await pipe.exec()) ?? []).map(([, s]) => s as string | null);
    return new Set(ids.filter((_, i) => states[i] === 'cancelled' || states[i] === 'failed' || states[i] === null));
  }

  private async persist(id: string): Promise<void> {
    const h = await this.redis.hgetall(this.runKey(id));
    if (!h.id) return;
    const r = this.toRun(h);
    await this.pool.query(
      `INSERT INTO kdb_reindex_runs (id, entity, force, recompute, state, total, processed, embedded, cached, failed, error, created_at, started_at, finished_at, updated_at, space)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)
       ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, total = EXCLUDED.total, processed = EXCLUDED.processed,
         embedded = EXCLUDED.embedded, cached = EXCLUDED.cached, failed = EXCLUDED.failed, error = EXCLUDED.error,
         started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, updated_at = EXCLUDED.updated_at`,
      [r.id, r.entity, r.force, r.recompute, r.state, r.total, r.processed, r.embedded, r.cached, r.failed, r.error, r.createdAt, r.startedAt, r.finishedAt ?? new Date().toISOString(), r.space],
    );
  }
}

interface HistoryRow {
  id: string;
  entity: string | null;
  force: boolean;
  recompute: boolean;
  space: string | null;
  state: RunState;
  total: string;
  processed: string;
  embedded: string;
  cached: string;
  failed: string;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  /** null while the run is live. */
  finished_at: Date | null;
  updated_at: Date;
}

function fromHistory(r: HistoryRow): ReindexRun {
  const processed = Number(r.processed);
  const end = r.finished_at ?? new Date();
  const seconds = r.started_at ? Math.max((end.getTime() - r.started_at.getTime()) / 1000, 0.001) : 0;
  return {
    id: r.id,
    entity: r.entity,
    force: r.force,
    recompute: r.recompute,
    space: r.space,
    state: r.state,
    total: Number(r.total),
    planned: Number(r.total),
    processed,
    embedded: Number(r.embedded),
    cached: Number(r.cached),
    failed: Number(r.failed),
    createdAt: r.created_at.toISOString(),
    startedAt: r.started_at?.toISOString() ?? null,
    updatedAt: r.updated_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
    error: r.error,
    rate: seconds ? Math.round((processed / seconds) * 10) / 10 : 0,
    etaSeconds: r.finished_at ? 0 : null,
  };
}
