import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { track } from './leaks.js';

const run = promisify(execFile);

export interface PrivateRedis {
  port: number;
  url: string;
  /** Starts the server (again): empty, as after a restart without persistence. */
  start(): Promise<void>;
  /** Stops it without saving anything. */
  stop(): Promise<void>;
  /** FLUSHALL on the running server. */
  flushAll(): Promise<void>;
  /** Stops it and removes its folder; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * A redis-server of a test's own (no persistence), for faults that must not
 * touch the shared Redis: stopping it, restarting it, FLUSHALL. The port is
 * derived from the process id and `slot`, so concurrent runs do not collide.
 */
export async function startPrivateRedis(slot = 0): Promise<PrivateRedis> {
  const port = 20_000 + ((process.pid * 7 + slot) % 10_000);
  const dir = await mkdtemp(join(tmpdir(), `kdb-redis-${port}-`));
  const cli = (...args: string[]) => run('redis-cli', ['-p', String(port), ...args]);
  const ping = async () => {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    // A refused probe is an answer here, not an error to report.
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  };
  let running = false;
  const r: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      // Never FLUSHALL or stop a server that is not ours.
      if (await ping()) throw new Error(`port ${port} already answers Redis: not starting a private server there`);
      await run('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--daemonize', 'yes', '--dir', dir, '--pidfile', join(dir, 'redis.pid'), '--logfile', join(dir, 'redis.log'),
      ]);
      running = true;
      for (let i = 0; i < 100 && !(await ping()); i++) await new Promise((res) => setTimeout(res, 50));
    },
    async stop() {
      if (!running) return;
      await cli('shutdown', 'nosave').catch(() => undefined);
      running = false;
      for (let i = 0; i < 100 && (await ping()); i++) await new Promise((res) => setTimeout(res, 50));
    },
    async flushAll() {
      await cli('flushall');
    },
    async close() {
      await r.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  track(`private redis-server on port ${port}`, () => running);
  return r;
}
