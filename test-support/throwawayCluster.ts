import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { track } from './leaks.js';

const run = promisify(execFile);
const VERSION = '15';

export interface ThrowawayCluster {
  name: string;
  port: number;
  /** URL of database `db` on this cluster. */
  url(db: string): string;
  /** `pg_ctlcluster … restart -m fast`: every session is terminated (57P01), then the server comes back. */
  restart(): Promise<void>;
  /** Stops (immediate) and drops the cluster; safe to call twice. */
  drop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function dropSync(name: string): void {
  try {
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', '-m', 'immediate', VERSION, name, 'stop'], { stdio: 'ignore' });
  } catch {
    // already stopped
  }
  try {
    execFileSync('pg_dropcluster', [VERSION, name], { stdio: 'ignore' });
  } catch {
    // never created
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Drops the throwaway clusters whose test process is gone: a vitest fork
 * killed at a timeout never runs its exit handler. Run by the global setup
 * and teardown (test-support/globalSetup.ts). Returns the names dropped.
 */
export function dropOrphanClusters(): string[] {
  let listing: string;
  try {
    listing = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
  } catch {
    return []; // no postgresql-common here: no throwaway clusters either
  }
  const dropped: string[] = [];
  for (const line of listing.split('\n')) {
    const [version, name] = line.trim().split(/\s+/);
    const pid = /^kdbt(\d+)$/.exec(name ?? '')?.[1];
    if (version !== VERSION || !pid || alive(Number(pid))) continue;
    dropSync(name!);
    dropped.push(name!);
  }
  return dropped;
}

/**
 * A PostgreSQL 15 cluster of its own (as root, with the machine's
 * postgresql-common tools), for faults the shared server on 5432 must never
 * see (restarts, crashes) and for a primary whose size is the test's alone
 * (a standby's base backup copies the whole cluster). It can be one:
 * wal_level replica, and initdb's trust lines (`--auth=trust`) include
 * `host replication all 127.0.0.1/32`. Name and port come from the run (`kdbt<pid>`,
 * 15000 + pid % 10000, the next free port if taken) so parallel runs never
 * meet. Durability is switched off: the faults tested are restarts, not
 * power loss. The cluster is dropped by `drop()` and, should the test
 * process end without it, on exit.
 */
export async function createThrowawayCluster(): Promise<ThrowawayCluster> {
  const name = `kdbt${process.pid}`;
  let port = 15_000 + (process.pid % 10_000);
  while (!(await portFree(port))) port += 1;
  dropSync(name); // a leftover of a killed run with the same pid
  const onExit = () => dropSync(name);
  process.once('exit', onExit);
  // wal_level is PostgreSQL 15's default, said here because a standby of this cluster needs it.
  const opts = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'shared_buffers=64MB', 'wal_level=replica'].flatMap((o) => ['-o', o]);
  await run('pg_createcluster', [VERSION, name, '-p', String(port), '--start', ...opts, '--', '--auth=trust']);
  let dropped = false;
  track(`throwaway PostgreSQL cluster ${name} on port ${port}`, () => !dropped, { scope: 'file' });
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  // The server accepts connections a moment after pg_ctl returns.
  for (let i = 0; ; i++) {
    const c = new pg.Client({ connectionString: url('postgres') });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      if (i > 100) {
        // The caller gets no handle to drop it with.
        dropped = true;
        process.removeListener('exit', onExit);
        dropSync(name);
        throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    name,
    port,
    url,
    async restart() {
      await run('pg_ctlcluster', ['--skip-systemctl-redirect', '-m', 'fast', VERSION, name, 'restart']);
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      process.removeListener('exit', onExit);
      dropSync(name);
    },
  };
}

/** Creates database `db` on the cluster. */
export async function createClusterDatabase(cluster: ThrowawayCluster, db: string): Promise<string> {
  const c = new pg.Client({ connectionString: cluster.url('postgres') });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${db}`);
  } finally {
    await c.end();
  }
  return cluster.url(db);
}
