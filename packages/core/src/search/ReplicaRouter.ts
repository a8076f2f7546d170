import type pg from 'pg';
import type { ReplicaStatus } from '@kameleondb/schemas';
import { ValidationError } from '../errors.js';
import { lsnBytes, primaryWalPosition, replayLsn, standbyPosition, type WalLsn } from '../store/walPosition.js';
import { withTimeout } from '../util/withTimeout.js';

/** A Postgres server search statements may run on. */
export interface SearchServer {
  /** `primary`, or the replica's host:port (never its credentials). */
  name: string;
  role: 'primary' | 'replica';
  pool: pg.Pool;
}

/** Why a search went where it went (explain shows it). */
export type RouteReason =
  | 'no replicas configured'
  | 'consistency=primary'
  | 'replica'
  | 'replica has replayed after'
  | 'no replica in rotation'
  | 'no replica replayed after in time'
  | 'replica failed during the search';

/** Where one search runs. */
export interface Route {
  server: SearchServer;
  reason: RouteReason;
  /** How long the search waited for a replica to replay `after`, in ms. */
  waitedMs: number;
  /** The WAL position the search asked for, if any. */
  after?: WalLsn | undefined;
}

export type { ReplicaStatus };

export interface ReplicaRouterOptions {
  /** The primary's pool: every write, and searches no replica can serve. Required. */
  primary: pg.Pool;
  /** Streaming replicas (KDB_SEARCH_DATABASE_URL), each with its own pool. Default none: every search on the primary. */
  replicas?: readonly { name: string; pool: pg.Pool }[];
  /** How long a search carrying `after` waits for a replica to replay it before the primary serves it, in ms (KDB_REPLICA_WAIT_MS). Default 1000. */
  waitMs?: number | undefined;
  /** A replica lagging more seconds than this leaves rotation until it catches up (KDB_REPLICA_MAX_LAG). Default 30. */
  maxLagSeconds?: number | undefined;
  /** How often replicas' lag is checked, in ms. Default 1000. */
  checkEveryMs?: number;
  /** Bound of one check of one server, in ms: a server silent that long is out of rotation. Default 2000. */
  checkTimeoutMs?: number;
}

interface Replica {
  server: SearchServer;
  status: ReplicaStatus;
  /** Replay position in bytes at the last look, -1 when unknown. */
  replay: bigint;
  /** The read of its replay position in flight, shared by every waiting search. */
  polling: Promise<void> | null;
  /** The oldest primary position seen and not yet replayed here, and when it was seen. */
  behind: { lsn: bigint; since: number } | null;
}

/** How often a search waiting for `after` looks at the replicas' replay positions, in ms. */
const WAIT_POLL_MS = 5;

/**
 * Picks the server of each search: a replica in rotation (round robin), the
 * primary when asked (`consistency=primary`), when no replica is in rotation,
 * or when no replica has replayed the search's `after` position within
 * `waitMs`. A background check (every `checkEveryMs`) reads each replica's
 * replay position and lag; a replica that does not answer, is not a standby
 * or lags past `maxLagSeconds` leaves rotation (it is reported, not failed)
 * and comes back at the first good check.
 */
export class ReplicaRouter {
  readonly primary: SearchServer;
  private readonly replicas: Replica[];
  private readonly waitMs: number;
  private readonly maxLagSeconds: number;
  private readonly checkTimeoutMs: number;
  /** The primary's insert position (write answers' LSNs are at most this) and flush position (lag is counted from it). */
  private primaryLsn = -1n;
  private primaryFlush = -1n;
  private primaryPolling: Promise<void> | null = null;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | null = null;
  private readonly firstCheck: Promise<void>;
  private closed = false;

  constructor(opts: ReplicaRouterOptions) {
    this.primary = { name: 'primary', role: 'primary', pool: opts.primary };
    this.replicas = (opts.replicas ?? []).map((r) => ({
      server: { name: r.name, role: 'replica', pool: r.pool },
      status: { name: r.name, inRotation: false, reason: 'not checked yet', replayLsn: null, lagBytes: null, lagSeconds: null, checkedAt: null },
      replay: -1n,
      polling: null,
      behind: null,
    }));
    this.waitMs = opts.waitMs ?? 1000;
    this.maxLagSeconds = opts.maxLagSeconds ?? 30;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? 2000;
    this.firstCheck = this.replicas.length ? this.check() : Promise.resolve();
    if (this.replicas.length) {
      this.timer = setInterval(() => void this.check(), opts.checkEveryMs ?? 1000);
      this.timer.unref();
    }
  }

  /** True when replicas are configured. */
  get hasReplicas(): boolean {
    return this.replicas.length > 0;
  }

  /** The replicas as the last check (or a failed search) left them. */
  statuses(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ ...r.status }));
  }

  /** Checks every replica now (the background check does it every checkEveryMs). */
  check(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.checking ??= this.checkAll().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async checkAll(): Promise<void> {
    await this.refreshPrimary().catch(() => undefined);
    await Promise.all(
      this.replicas.map(async (r) => {
        const checkedAt = new Date().toISOString();
        try {
          const pos = await withTimeout(standbyPosition(r.server.pool), this.checkTimeoutMs, `replica ${r.server.name}`);
          if (!pos.inRecovery || pos.replayLsn === null) {
            r.replay = -1n;
            r.status = { ...r.status, inRotation: false, reason: 'not a standby (pg_is_in_recovery() is false): its WAL positions mean nothing here', replayLsn: null, lagBytes: null, lagSeconds: null, checkedAt };
            return;
          }
          r.replay = lsnBytes(pos.replayLsn);
          const lagBytes = this.primaryFlush >= 0n && this.primaryFlush > r.replay ? Number(this.primaryFlush - r.replay) : 0;
          // Lag in seconds: how long the oldest primary position seen and not replayed here has
          // waited (to the check's resolution). It holds for a standby cut off from its primary
          // too, which has replayed all it received.
          const now = Date.now();
          if (r.behind && r.replay >= r.behind.lsn) r.behind = null;
          if (!r.behind && lagBytes > 0) r.behind = { lsn: this.primaryFlush, since: now };
          const lagSeconds = r.behind ? Math.round(now - r.behind.since) / 1000 : 0;
          const tooFar = lagSeconds > this.maxLagSeconds;
          r.status = {
            name: r.server.name,
            inRotation: !tooFar,
            reason: tooFar ? `lags ${lagSeconds.toFixed(1)} s, more than KDB_REPLICA_MAX_LAG (${this.maxLagSeconds} s)` : null,
            replayLsn: pos.replayLsn,
            lagBytes,
            lagSeconds,
            checkedAt,
          };
        } catch (err) {
          r.status = { ...r.status, inRotation: false, reason: `did not answer: ${(err as Error).message}`, checkedAt };
        }
      }),
    );
  }

  /** Reads the primary's WAL position (shared by concurrent callers). */
  private refreshPrimary(): Promise<void> {
    this.primaryPolling ??= withTimeout(primaryWalPosition(this.primary.pool), this.checkTimeoutMs, 'primary')
      .then((pos) => {
        this.primaryLsn = lsnBytes(pos.insert);
        this.primaryFlush = lsnBytes(pos.flush);
      })
      .finally(() => {
        this.primaryPolling = null;
      });
    return this.primaryPolling;
  }

  private refreshReplay(r: Replica, boundMs: number): Promise<void> {
    r.polling ??= withTimeout(replayLsn(r.server.pool), Math.max(1, boundMs), `replica ${r.server.name}`)
      .then(
        (lsn) => {
          if (lsn !== null) r.replay = lsnBytes(lsn);
        },
        () => undefined,
      )
      .finally(() => {
        r.polling = null;
      });
    return r.polling;
  }

  private roundRobin(of: Replica[]): Replica {
    this.next = (this.next + 1) % 1_000_000;
    return of[this.next % of.length]!;
  }

  /**
   * The server of one search. `after` (a write answer's KDB-Commit-LSN) asks
   * for a server that has replayed that far; a position past the primary's
   * own WAL is a ValidationError (it never came from this database).
   */
  async pick(o: { after?: WalLsn | undefined; consistency?: 'any' | 'primary' | undefined } = {}): Promise<Route> {
    const after = o.after;
    const afterBytes = after === undefined ? undefined : lsnBytes(after);
    if (o.consistency === 'primary') return { server: this.primary, reason: 'consistency=primary', waitedMs: 0, after };
    if (!this.replicas.length) return { server: this.primary, reason: 'no replicas configured', waitedMs: 0, after };
    await this.firstCheck;
    if (afterBytes !== undefined && afterBytes > this.primaryLsn) {
      await this.refreshPrimary();
      if (afterBytes > this.primaryLsn) {
        throw new ValidationError(`after ${after} is past the primary's WAL position: use the KDB-Commit-LSN header of a write answer of this server`, { after });
      }
    }
    const inRotation = this.replicas.filter((r) => r.status.inRotation);
    if (!inRotation.length) return { server: this.primary, reason: 'no replica in rotation', waitedMs: 0, after };
    if (afterBytes === undefined) return { server: this.roundRobin(inRotation).server, reason: 'replica', waitedMs: 0, after };
    const t0 = performance.now();
    for (;;) {
      const ready = inRotation.filter((r) => r.status.inRotation && r.replay >= afterBytes);
      const waitedMs = performance.now() - t0;
      if (ready.length) return { server: this.roundRobin(ready).server, reason: 'replica has replayed after', waitedMs, after };
      const left = this.waitMs - waitedMs;
      if (left <= 0 || this.closed) return { server: this.primary, reason: 'no replica replayed after in time', waitedMs, after };
      await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, left)));
      await Promise.all(inRotation.map((r) => this.refreshReplay(r, this.waitMs - (performance.now() - t0))));
    }
  }

  /** Takes a replica whose connection failed during a search out of rotation until the next good check. */
  markFailed(server: SearchServer, err: Error): void {
    const r = this.replicas.find((x) => x.server === server);
    if (r) r.status = { ...r.status, inRotation: false, reason: `failed during a search: ${err.message}` };
  }

  /** Stops the background check; the pools stay with their owner. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.checking?.catch(() => undefined);
  }
}

/** A replica's name from its URL: host and port, never user or password. */
export function replicaName(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
}
