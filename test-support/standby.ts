import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { track } from './leaks.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../scripts/pg-standby.sh', import.meta.url));

export interface Standby {
  port: number;
  /** URL of database `db` on the standby. */
  url(db: string): string;
  /** Waits until database `db` (created on the primary) has been replayed here. */
  waitForDatabase(db: string, timeoutMs?: number): Promise<void>;
  /** One statement on the standby's database `db`. */
  query<R extends pg.QueryResultRow>(db: string, sql: string, values?: unknown[]): Promise<R[]>;
  /** `scripts/pg-standby.sh stop`: the server stops at once and its folder is removed; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A streaming standby on `port` of `primaryPort` on 127.0.0.1 (default the
 * tests' server, 5432), started and stopped by scripts/pg-standby.sh, as the
 * README tells users to. Databases a test creates on the primary afterwards
 * appear on it by replication. The base backup copies the whole primary:
 * a test on the shared server waits for whatever else it holds, a throwaway
 * cluster's (createThrowawayCluster) takes seconds.
 */
export async function startStandby(port: number, opts: { primaryPort?: number } = {}): Promise<Standby> {
  const env = { ...process.env, ...(opts.primaryPort === undefined ? {} : { KDB_STANDBY_PRIMARY_PORT: String(opts.primaryPort) }) };
  // A leftover of a killed run on this port is rebuilt (the script makes a new base backup).
  await run('bash', [SCRIPT, 'stop', String(port)], { env });
  try {
    await run('bash', [SCRIPT, 'start', String(port)], { env, timeout: 120_000 });
  } catch (err) {
    // A start that failed past pg_ctl (or timed out) may have left a server running and its folder.
    await run('bash', [SCRIPT, 'stop', String(port)], { env }).catch(() => undefined);
    throw err;
  }
  let stopped = false;
  track(`standby on port ${port}`, () => !stopped, { scope: 'file' });
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const query = async <R extends pg.QueryResultRow>(db: string, sql: string, values: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url(db) });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query<R>(sql, values)).rows;
    } finally {
      await c.end();
    }
  };
  return {
    port,
    url,
    query,
    async waitForDatabase(db, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const rows = await query<{ n: number }>('postgres', 'SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [db]).catch(() => [{ n: 0 }]);
        if (rows[0]!.n === 1) return;
        if (Date.now() > until) throw new Error(`database ${db} did not reach the standby on port ${port} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (stopped) return;
      await run('bash', [SCRIPT, 'stop', String(port)], { env });
      stopped = true;
    },
  };
}
