import type pg from 'pg';
import { WAL_LSN_PATTERN } from '@kameleondb/schemas';
import { ValidationError } from '../errors.js';

/** A WAL position as PostgreSQL prints it (`16/B374D848`). */
export type WalLsn = string;

/** The byte position of an LSN, for comparisons and lag in bytes. */
export function lsnBytes(lsn: WalLsn): bigint {
  if (!WAL_LSN_PATTERN.test(lsn)) throw new ValidationError(`"${lsn.slice(0, 20)}" is not a WAL position such as 16/B374D848`);
  const [hi, lo] = lsn.split('/') as [string, string];
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/**
 * The primary's WAL insert position. Read after a write's COMMIT returned,
 * it is at or past the end of that commit record, so a standby whose replay
 * position reaches it holds the write. (At a page boundary it may point just
 * past a page header the standby has not replayed yet: a search then waits
 * its bound and goes to the primary, never misses the write.)
 */
export async function walInsertLsn(db: pg.Pool | pg.ClientBase): Promise<WalLsn> {
  const { rows } = await db.query<{ lsn: string }>({ name: 'kdb_wal_insert_lsn', text: 'SELECT pg_current_wal_insert_lsn()::text AS lsn' });
  return rows[0]!.lsn;
}

/**
 * The primary's WAL insert position (what write answers hand out) and flush
 * position (what a standby can have received). An idle primary's insert
 * position may sit past a page header no standby replays, so lag is counted
 * from the flush position.
 */
export async function primaryWalPosition(db: pg.Pool | pg.ClientBase): Promise<{ insert: WalLsn; flush: WalLsn }> {
  const { rows } = await db.query<{ insert: string; flush: string }>({
    name: 'kdb_primary_wal_position',
    text: 'SELECT pg_current_wal_insert_lsn()::text AS insert, pg_current_wal_flush_lsn()::text AS flush',
  });
  return rows[0]!;
}

export interface StandbyPosition {
  /** False on a server that is not a standby (a primary, or a promoted replica). */
  inRecovery: boolean;
  /** The last WAL position replayed (null when not a standby). */
  replayLsn: WalLsn | null;
}

/**
 * Where a standby's replay stands. Its lag in seconds is not read here:
 * `now() - pg_last_xact_replay_timestamp()` counts an idle primary's quiet
 * time as lag the moment a new commit arrives, so ReplicaRouter measures how
 * long a primary position waits to be replayed instead.
 */
export async function standbyPosition(db: pg.Pool | pg.ClientBase): Promise<StandbyPosition> {
  const { rows } = await db.query<{ rec: boolean; replay: string | null }>({
    name: 'kdb_standby_position',
    text: 'SELECT pg_is_in_recovery() AS rec, pg_last_wal_replay_lsn()::text AS replay',
  });
  const r = rows[0]!;
  return { inRecovery: r.rec, replayLsn: r.replay };
}

/** The replay position of a standby alone (the read-your-writes wait polls it). */
export async function replayLsn(db: pg.Pool | pg.ClientBase): Promise<WalLsn | null> {
  const { rows } = await db.query<{ lsn: string | null }>({ name: 'kdb_replay_lsn', text: 'SELECT pg_last_wal_replay_lsn()::text AS lsn' });
  return rows[0]!.lsn;
}
