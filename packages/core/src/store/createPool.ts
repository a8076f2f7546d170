import pg from 'pg';
import pgvector from 'pgvector/pg';

export interface PoolOptions {
  /** Postgres connection string. */
  connectionString: string;
  /** Maximum connections in the pool. Default 10. */
  max?: number;
  /** Application name shown in pg_stat_activity. Default `kameleondb`. */
  applicationName?: string;
  /** Statements run once on each new connection (session settings such as `SET hnsw.ef_search = 100`). */
  sessionSql?: readonly string[];
  /**
   * Seconds after which a connection is replaced (once it is idle). Default 1800.
   * A search connection keeps one prepared vector statement per segment layout
   * and row count it has served (SearchEngine); layouts change with every seal
   * and merge, so without an end a long-lived connection's statements, and the
   * server memory they hold, would only grow.
   */
  maxLifetimeSeconds?: number;
  /** How long opening a connection may take, in ms, before the query fails. Default none (wait). */
  connectionTimeoutMillis?: number;
}

/**
 * A pg pool whose connections know the pgvector `vector` type (parsed to
 * number[]). Registration needs the extension, so call this after `migrate`.
 */
export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'kameleondb',
    maxLifetimeSeconds: opts.maxLifetimeSeconds ?? 1800,
    ...(opts.connectionTimeoutMillis !== undefined ? { connectionTimeoutMillis: opts.connectionTimeoutMillis } : {}),
    // pg-pool awaits this before handing the client out, so no query races it
    // (its type says void, hence the rule's complaint).
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    onConnect: async (client) => {
      await pgvector.registerTypes(client);
      for (const sql of opts.sessionSql ?? []) await client.query(sql);
    },
  });
  // An idle client losing its connection must not crash the process; the
  // pool discards it and the next checkout opens a new one.
  pool.on('error', () => undefined);
  return pool;
}
