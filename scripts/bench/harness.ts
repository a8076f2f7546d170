/** Shared pieces of the benchmarks: processes, databases, machine line, BENCHMARKS.md sections. */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { vectorIndexStatus } from '@kameleondb/core';
import { startApiProcess, startWorkerProcess, stopAll, type ChildApp } from '../../test-support/processes.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PG = process.env.KDB_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS = process.env.KDB_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const dbUrl = (name: string) => Object.assign(new URL(PG), { pathname: `/${name}` }).toString();

export async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  await c.query(sql);
  await c.end();
}

export async function freshDatabase(name: string): Promise<string> {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  return dbUrl(name);
}

export async function dropDatabase(name: string): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** An API and `workers` worker processes on one database (the test suite's launchers); `url` is the API's. */
export async function startStack(env: Record<string, string>, workers: number): Promise<{ url: string; api: ChildApp & { url: string }; workers: ChildApp[] }> {
  const api = await startApiProcess(env);
  const ws = await Promise.all(Array.from({ length: workers }, () => startWorkerProcess(env)));
  return { url: api.url, api, workers: ws };
}

/** SIGTERM to each child; resolves when all exited. */
export const stop = stopAll;

export async function machine(): Promise<string> {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  const v = (await c.query('SHOW server_version')).rows[0].server_version as string;
  const sb = (await c.query('SHOW shared_buffers')).rows[0].shared_buffers as string;
  const pv = (await c.query(`SELECT default_version FROM pg_available_extensions WHERE name = 'vector'`)).rows[0]?.default_version as string | undefined;
  await c.end();
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ${os.type()} ${os.release()}; Node ${process.version}; PostgreSQL ${v} (shared_buffers ${sb}) + pgvector ${pv ?? '?'}`;
}

export const now = () => `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Replaces (or appends) the `<!-- bench:NAME -->` section of BENCHMARKS.md and prints it. */
export async function writeSection(name: string, lines: string[]): Promise<void> {
  const section = [`<!-- bench:${name} start -->`, ...lines, `<!-- bench:${name} end -->`].join('\n');
  process.stdout.write(`${section}\n`);
  const path = `${ROOT}BENCHMARKS.md`;
  let doc = await readFile(path, 'utf8').catch(() => '# Benchmarks\n\nFigures from runs on the machine named in each section. Re-run the command to refresh them.\n');
  const re = new RegExp(`<!-- bench:${name} start -->[\\s\\S]*<!-- bench:${name} end -->`);
  doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(path, doc);
}

/** Until no vector is hot and no segment build runs (seals and merges done); returns when the last build finished (epoch ms). */
export async function waitCompacted(c: pg.Client): Promise<number> {
  let quietSince = 0;
  for (;;) {
    const status = await vectorIndexStatus(c);
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

