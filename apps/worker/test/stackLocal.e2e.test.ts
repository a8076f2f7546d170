import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

describe('scripts/stack-local.sh', () => {
  let db: TestDatabase;
  let prefix: string;
  let stack: ChildProcess | undefined;
  let out = '';

  /** Pids of the processes of `name` that logged `msg`, in order. */
  const pidsOf = (name: string, msg: string) =>
    out
      .split('\n')
      .filter((l) => l.includes(`"name":"${name}"`) && l.includes(`"msg":"${msg}"`))
      .map((l) => (JSON.parse(l) as { pid: number }).pid);
  async function until<T>(what: string, f: () => T | undefined, ms = 45_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`${what} not seen after ${ms} ms; output:\n${out.slice(-3000)}`);
      await sleep(50);
    }
  }

  test.beforeAll(async ({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
  });
  afterAll(async () => {
    if (stack?.pid && stack.exitCode === null) process.kill(-stack.pid, 'SIGKILL');
  });

  it('starts a killed worker again (the API keeps serving), and Ctrl-C still stops everything', async () => {
    const port = await freePort();
    stack = spawn('bash', ['scripts/stack-local.sh'], {
      cwd: ROOT,
      // Its own process group, as a terminal gives it: Ctrl-C is a SIGINT to the whole group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        NODE_NO_WARNINGS: '1',
        KDB_STACK_SKIP_INSTALL: '1',
        KDB_DATABASE_URL: db.url,
        KDB_REDIS_URL: redisUrl(),
        KDB_QUEUE_PREFIX: prefix,
        KDB_PORT: String(port),
        KDB_WORKERS: '1',
        KDB_METRICS_PORT_BASE: '0',
        KDB_AUTH: 'disabled',
        KDB_EMBEDDING_PROVIDER: 'hash',
      },
    });
    const exited = new Promise<number | string>((resolve) => stack!.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    stack.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    stack.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const api = `http://127.0.0.1:${port}`;

    const apiPid = await until('api listening', () => pidsOf('kameleondb-api', 'api listening')[0]);
    const first = await until('worker probes', () => pidsOf('kameleondb-worker', 'metrics and probes listening')[0]);
    process.kill(first, 'SIGKILL');
    await until('the restart notice', () => (/worker 1 exited \(status 137\); starting it again in 1s/.test(out) ? true : undefined));
    const second = await until('a second worker', () => pidsOf('kameleondb-worker', 'metrics and probes listening')[1]);
    expect(second).not.toBe(first);
    expect(running(apiPid)).toBe(true);
    expect((await fetch(`${api}/healthz`)).status).toBe(200);

    // The new worker takes jobs.
    const json = { 'content-type': 'application/json' };
    expect((await fetch(`${api}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'notes', fields: { t: 'text' }, embedFields: ['t'] }) })).status).toBe(201);
    const res = await fetch(`${api}/v1/entities/notes/records?wait=true`, { method: 'POST', headers: json, body: JSON.stringify({ t: 'after the restart' }) });
    expect(await res.json()).toMatchObject({ done: true });

    process.kill(-stack.pid!, 'SIGINT');
    expect(await Promise.race([exited, sleep(30_000).then(() => 'still running after 30 s')])).toBe(0);
    expect({ api: running(apiPid), worker: running(second) }).toEqual({ api: false, worker: false });
    // The one restart is the killed worker's: nothing stopped by Ctrl-C was started again.
    expect(out.match(/starting it again/g)).toHaveLength(1);
  });
});
