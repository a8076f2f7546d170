/** A search replica (KDB_SEARCH_DATABASE_URL) as /readyz, /metrics and `embeddings status` show it. */
export interface ReplicaStatus {
  /** host:port/database of the replica (never its credentials). */
  name: string;
  /** Searches may go to it: it answered the last check, is a standby, and lags at most KDB_REPLICA_MAX_LAG. */
  inRotation: boolean;
  /** Why it is out of rotation; null while in. */
  reason: string | null;
  /** The WAL position it has replayed (a search with `after` at or below it may run there). */
  replayLsn: string | null;
  /** Bytes of the primary's WAL not yet replayed there (at the last check). */
  lagBytes: number | null;
  /** Seconds it is behind the primary (at the last check). */
  lagSeconds: number | null;
  /** When it was last checked (ISO time), null before the first check. */
  checkedAt: string | null;
}
