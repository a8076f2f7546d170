/**
 * A hand measurement behind a design decision (docs/decisions/), not a benchmark:
 * `KDB_BENCH_DB=<a KDB_BENCH_LOAD_ONLY=1 pnpm bench:search database> node --conditions=source --import tsx scripts/bench/measureSearchBesideIngest.ts [--split] [records]`
 * sends hybrid searches on its `bench` entity one at a time for 4 s (idle),
 * then while one NDJSON request of `records` (default 30,000) goes into a new
 * entity: through the same API process, or with `--split` through a second
 * one. No workers. The new entity's rows are deleted afterwards.
 */
import pg from 'pg';
import { startApiProcess, stopAll } from '../../test-support/processes.js';
import { dbUrl, deleteRedisKeys, getJson, percentile, REDIS } from './harness.js';
import { ndjsonOf } from './ingestRecord.js';

const dbName = process.env.KDB_BENCH_DB;
if (!dbName) throw new Error('set KDB_BENCH_DB to a database loaded by KDB_BENCH_LOAD_ONLY=1 pnpm bench:search');
const split = process.argv.includes('--split');
const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 30_000);
const url = dbUrl(dbName);
const prefix = `{kdbbench-b-${process.pid}}`;
const env = { KDB_DATABASE_URL: url, KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' };
const api = await startApiProcess(env);
const ingestApi = split ? await startApiProcess(env) : api;
const entity = `beside${process.pid}`;
const queries = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `common w${(50 + ((i * 37) % 5000)).toString(36)}` : `t${(i * 7) % 500}x${i % 20} t${(i * 7) % 500}x${(i + 3) % 20}`));
const search = (q: string) => getJson(`${api.url}/v1/search?cache=false&entity=bench&q=${encodeURIComponent(q)}`);
async function searchUntil(done: () => boolean): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; !done(); i++) {
    const t = performance.now();
    await search(queries[i % queries.length]!);
    lat.push(performance.now() - t);
  }
  return lat;
}
const show = (l: number[]) => `${l.length} searches, p50 ${percentile(l, 50).toFixed(2)} / p95 ${percentile(l, 95).toFixed(2)} / p99 ${percentile(l, 99).toFixed(2)} / worst ${Math.max(...l).toFixed(1)} ms`;
try {
  await fetch(`${ingestApi.url}/v1/entities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: entity, fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }),
  });
  for (const q of queries) await search(q); // prepared statements, query vectors cached
  const t0 = performance.now();
  const idle = await searchUntil(() => performance.now() - t0 > 4000);
  let answered = false;
  const body = ndjsonOf(0, n);
  const t1 = performance.now();
  const status = fetch(`${ingestApi.url}/v1/entities/${entity}/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body }).then((r) => {
    answered = true;
    return r.status;
  });
  const during = await searchUntil(() => answered);
  process.stdout.write(`${split ? 'ingest through a second API process' : 'search and ingest through one API process'}; ingest ${await status} after ${((performance.now() - t1) / 1000).toFixed(2)} s\n`);
  process.stdout.write(`idle:   ${show(idle)}\nduring: ${show(during)}\n`);
} finally {
  await stopAll(split ? [api, ingestApi] : [api]);
  await deleteRedisKeys(prefix);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('DELETE FROM kdb_records WHERE entity = $1', [entity]);
  for (const table of ['kdb_postings', 'kdb_bm25_terms', 'kdb_bm25_stats']) await c.query(`DELETE FROM ${table} WHERE entity = $1`, [entity]);
  await c.query('DELETE FROM kdb_entities WHERE name = $1', [entity]);
  await c.end();
}
