/**
 * Shared pieces of the benchmarks: processes, databases, machine line,
 * BENCHMARKS.md sections. The processes, databases and Redis keys are
 * test-support's; what is the bench's own is that it remembers what it made,
 * to remove it when interrupted.
 */
import { writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { vectorIndexStatus } from '@kameleondb/core';
import { startApiProcess, startWorkerProcess, stopAll, type ChildApp } from '../../test-support/processes.js';
import { obliterateQueues } from '../../test-support/queuePrefix.js';
import { adminQuery, dropDatabase as dropTestDatabase, recreateDatabase } from '../../test-support/testDatabase.js';
import { adminUrl, redisUrl, withDatabase } from '../../test-support/urls.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The PostgreSQL server of the benches: KDB_BENCH_PG_URL, else the tests' server. */
export const PG = process.env.KDB_BENCH_PG_URL ?? adminUrl();
/** The Redis of the benches: KDB_BENCH_REDIS_URL, else the tests' Redis. */
export const REDIS = process.env.KDB_BENCH_REDIS_URL ?? redisUrl();

export const dbUrl = (name: string) => withDatabase(PG, name);

/** One statement on the bench server's maintenance database. */
export const admin = (sql: string): Promise<void> => adminQuery(sql, PG);

/** What a bench made and has not cleaned up yet: removed by the signal handlers below when the bench is interrupted. */
const made = { databases: new Set<string>(), prefixes: new Set<string>(), children: new Set<ChildApp>() };

/** An empty database `name`, replacing one of that name; returns its URL. */
export async function freshDatabase(name: string): Promise<string> {
  made.databases.add(name);
  return recreateDatabase(name, PG);
}

export async function dropDatabase(name: string): Promise<void> {
  await dropTestDatabase(name, PG);
  made.databases.delete(name);
}

/** Deletes every Redis key under a queue prefix; returns how many there were and their memory. */
export async function deleteRedisKeys(prefix: string): Promise<{ keys: number; bytes: number }> {
  const left = await obliterateQueues(prefix, { url: REDIS, measure: true });
  made.prefixes.delete(prefix);
  return left;
}

/** How long a bench waits for a process to start: a machine shared with other runs compiles the sources slowly. */
const START_TIMEOUT_MS = 120_000;

/**
 * An API and `workers` worker processes on one database (the test suite's launchers); `url` is the API's.
 * `timeoutMs` bounds each start.
 */
export async function startStack(env: Record<string, string>, workers: number, timeoutMs = START_TIMEOUT_MS): Promise<{ url: string; api: ChildApp & { url: string }; workers: ChildApp[] }> {
  if (env.KDB_QUEUE_PREFIX) made.prefixes.add(env.KDB_QUEUE_PREFIX);
  const api = await startApiProcess(env, timeoutMs);
  made.children.add(api);
  // Each worker is tracked as it comes up: one that fails to start must not leave the others running.
  const started = await Promise.allSettled(
    Array.from({ length: workers }, async () => {
      const w = await startWorkerProcess(env, timeoutMs);
      made.children.add(w);
      return w;
    }),
  );
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stopAll([api, ...started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))]);
    throw failed.reason;
  }
  const ws = started.map((s) => (s as PromiseFulfilledResult<ChildApp & { probesUrl: string }>).value);
  return { url: api.url, api, workers: ws };
}

/** One more API process on `env` (a restart with other settings); stopped with the others when the bench is interrupted. */
export async function startApi(env: Record<string, string>): Promise<ChildApp & { url: string }> {
  const api = await startApiProcess(env, START_TIMEOUT_MS);
  made.children.add(api);
  return api;
}

// Interrupted (Ctrl-C, or a SIGTERM from a timeout): stop the processes the bench started, drop the
// databases it created and delete its Redis keys, so an aborted run leaves nothing behind.
// A database given with KDB_BENCH_DB was not created here and stays.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: stopping processes, dropping ${[...made.databases].join(', ') || 'no database'}…\n`);
    // What the bench was doing fails as its processes stop (a request in flight, a query):
    // those errors must not end the process before the cleanup has run.
    process.on('uncaughtException', () => undefined);
    process.on('unhandledRejection', () => undefined);
    void (async () => {
      await stopAll([...made.children]).catch(() => undefined);
      for (const name of made.databases) await dropDatabase(name).catch(() => undefined);
      for (const prefix of made.prefixes) await deleteRedisKeys(prefix).catch(() => undefined);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    })();
  });
}

// Ended by an error (a rejected top-level await exits with code 1): what the API and worker
// processes wrote is the evidence of why, so it goes to files named on stderr, and the
// processes are killed rather than left running on their database.
process.once('exit', (code) => {
  if (code === 0 || made.children.size === 0) return;
  for (const child of made.children) {
    const file = `${os.tmpdir()}/kdb-bench-${process.pid}-child-${child.proc.pid}.log`;
    writeFileSync(file, child.output());
    process.stderr.write(`output of child ${child.proc.pid}: ${file}\n`);
    child.kill('SIGKILL');
  }
});

// The load client's connection: node:http with keep-alive, as HTTP load generators (wrk, autocannon)
// hold theirs. Global fetch costs enough in the client itself to blur the server's latencies
// (docs/decisions/bench-load-client.md).
const keepAlive = new http.Agent({ keepAlive: true });

/** GET `url` over a kept-alive connection; the parsed JSON body, or an error naming the status and body. */
export function getJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: keepAlive }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url} answered ${res.statusCode}: ${body}`));
        else resolve(JSON.parse(body) as T);
      });
    });
    req.on('error', reject);
  });
}

/** SIGTERM to each child; resolves when all exited. */
export const stop = stopAll;

export async function machine(): Promise<string> {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  const v = (await c.query('SHOW server_version')).rows[0].server_version as string;
  const setting = async (name: string) => (await c.query(`SELECT current_setting($1) AS v`, [name])).rows[0].v as string;
  const settings = `shared_buffers ${await setting('shared_buffers')}, max_wal_size ${await setting('max_wal_size')}, autovacuum ${await setting('autovacuum')}`;
  const pv = (await c.query(`SELECT default_version FROM pg_available_extensions WHERE name = 'vector'`)).rows[0]?.default_version as string | undefined;
  await c.end();
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}; PostgreSQL ${v} (${settings}) + pgvector ${pv ?? '?'}`;
}

export const now = () => `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** "p50 / p95" of latencies, for the hand measurements' and benches' lines. */
export const p50p95 = (xs: readonly number[], digits = 2) => `${percentile(xs, 50).toFixed(digits)} / ${percentile(xs, 95).toFixed(digits)}`;

/** Replaces (or appends) the `<!-- bench:NAME -->` section of BENCHMARKS.md and prints it. */
export async function writeSection(name: string, lines: string[], file = 'BENCHMARKS.md'): Promise<void> {
  const section = [`<!-- bench:${name} start -->`, ...lines, `<!-- bench:${name} end -->`].join('\n');
  process.stdout.write(`${section}\n`);
  const path = `${ROOT}${file}`;
  let doc = await readFile(path, 'utf8').catch(() => '# Benchmarks\n\nFigures from runs on the machine named in each section. Re-run the command to refresh them.\n');
  const re = new RegExp(`<!-- bench:${name} start -->[\\s\\S]*<!-- bench:${name} end -->`);
  doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(path, doc);
}

/** Until no vector is hot and no segment build runs (seals and merges done); returns when the last build finished (epoch ms). */
export async function waitCompacted(c: pg.Client): Promise<number> {
  let quietSince = 0;
  for (;;) {
    const status = await vectorIndexStatus(c, 1);
    if (status.hotRows === 0 && !status.building) {
      quietSince ||= Date.now();
      if (Date.now() - quietSince > 8000) {
        // longer than the workers' idle delay before a merge
        const times = status.segments.map((s) => Date.parse(s.createdAt));
        return times.length ? Math.max(...times) : Date.now();
      }
    } else quietSince = 0;
    await new Promise((r) => setTimeout(r, 200));
  }
}

