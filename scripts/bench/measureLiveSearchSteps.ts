/**
 * A hand measurement behind a design decision (docs/decisions/), not a benchmark:
 * `KDB_BENCH_DB=<a KDB_BENCH_LOAD_ONLY=1 pnpm bench:search database> node --conditions=source --import tsx scripts/bench/measureLiveSearchSteps.ts [--split] [--workers=N] [--explain]`
 * copies that database, starts an API and N workers (default 2) on the copy,
 * sends hybrid searches on its `bench` entity one at a time (15 s warm-up,
 * 10 s idle), then while 30,000 more records go into the same entity (the
 * live case of `bench:ingest`): through the searching API process, or with
 * `--split` through a second one. It prints the latency before the 202 and
 * after it, and after it second by second beside the hot rows (vectors not
 * yet in a sealed segment). With `--explain` each search asks for its step
 * timings (the plans then run too, after took_ms: the client's latency is not
 * comparable). The copy is dropped afterwards.
 */
import pg from 'pg';
import { startApiProcess, startWorkerProcess, stopAll } from '../../test-support/processes.js';
import { admin, dbUrl, deleteRedisKeys, getJson, p50p95, REDIS } from './harness.js';
import { ndjsonOf, subjectWord, SUBJECTS } from './ingestRecord.js';

const template = process.env.KDB_BENCH_DB;
if (!template) throw new Error('set KDB_BENCH_DB to a database loaded by KDB_BENCH_LOAD_ONLY=1 pnpm bench:search');
const split = process.argv.includes('--split');
const explain = process.argv.includes('--explain');
const workerCount = Number(process.argv.find((a) => a.startsWith('--workers='))?.slice('--workers='.length) ?? 2);
const db = `kdb_bench_live_${process.pid}`;
await admin(`CREATE DATABASE ${db} TEMPLATE ${template}`);
const url = dbUrl(db);
const prefix = `{kdbbench-l-${process.pid}}`;
const env = { KDB_DATABASE_URL: url, KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' };
const api = await startApiProcess(env);
const ingestApi = split ? await startApiProcess(env) : api;
const workers = await Promise.all(Array.from({ length: workerCount }, () => startWorkerProcess(env)));
const c = new pg.Client({ connectionString: url });
await c.connect();

interface Sample {
  start: number;
  phase: 'warm' | 'idle' | 'before' | 'after';
  client: number;
  took: number;
  steps: Record<string, number>;
}
const samples: Sample[] = [];
let phase: Sample['phase'] = 'warm';
interface Answer {
  took_ms: number;
  explain?: { timings_ms: Record<string, number> };
}
async function searchUntil(done: () => boolean): Promise<void> {
  for (let q = 0; !done(); q++) {
    const text = `${subjectWord((q * 13) % SUBJECTS, q % 20)} detail ${(q * 7919) % 100_000}`;
    const start = performance.now();
    const a = await getJson<Answer>(`${api.url}/v1/search?cache=false&entity=bench&q=${encodeURIComponent(text)}${explain ? '&explain=true' : ''}`);
    samples.push({ start, phase, client: performance.now() - start, took: a.took_ms, steps: a.explain?.timings_ms ?? {} });
  }
}
// Hot rows every 250 ms, on a connection of its own.
const hot: { at: number; rows: number }[] = [];
let polling = true;
const poller = (async () => {
  const p = new pg.Client({ connectionString: url });
  await p.connect();
  while (polling) {
    const { rows } = await p.query<{ n: number }>('SELECT count(*)::int AS n FROM kdb_vectors_1 WHERE vector_seq > coalesce((SELECT max(hi) FROM kdb_vector_segments), 0)');
    hot.push({ at: performance.now(), rows: rows[0]!.n });
    await new Promise((r) => setTimeout(r, 250));
  }
  await p.end();
})();

function line(label: string, xs: Sample[]): string {
  const steps = explain ? ['keyword', 'vector', 'fetch'].map((k) => ` ${k} ${p50p95(xs.map((s) => s.steps[k] ?? 0), 1)}`).join('') : '';
  return `${label.padEnd(22)} ${String(xs.length).padStart(5)} searches  client p50 / p95 ${p50p95(xs.map((s) => s.client), 1)}  took_ms ${p50p95(xs.map((s) => s.took), 1)}${steps}`;
}
try {
  const warm = performance.now();
  await searchUntil(() => performance.now() - warm > 15_000);
  phase = 'idle';
  const idle = performance.now();
  await searchUntil(() => performance.now() - idle > 10_000);
  phase = 'before';
  let ready = false;
  const t0 = performance.now();
  const loaded = (async () => {
    const res = await fetch(`${ingestApi.url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjsonOf(100_000, 30_000) });
    if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    phase = 'after';
    const answered = performance.now();
    for (;;) {
      const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM kdb_search WHERE status <> 'ready'`);
      if (rows[0]!.n === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    ready = true;
    return { answeredS: (answered - t0) / 1000, readyS: (performance.now() - t0) / 1000 };
  })();
  await searchUntil(() => ready);
  const { answeredS, readyS } = await loaded;
  polling = false;
  await poller;
  const of = (p: Sample['phase']) => samples.filter((s) => s.phase === p);
  process.stdout.write(
    [
      `${workerCount} worker(s), ingest ${split ? 'through a second API process' : 'through the searching API process'}; 202 after ${answeredS.toFixed(2)} s, all ready after ${readyS.toFixed(2)} s`,
      line('idle', of('idle')),
      line('load', [...of('before'), ...of('after')]),
      line('  until the 202', of('before')),
      line('  after it', of('after')),
      '',
    ].join('\n'),
  );
  const after = of('after');
  for (let s = 0, a0 = after[0]?.start ?? 0; after.length; s++) {
    const inSecond = after.filter((x) => x.start >= a0 + s * 1000 && x.start < a0 + (s + 1) * 1000);
    if (!inSecond.length) break;
    const rows = hot.filter((h) => h.at >= a0 + s * 1000 && h.at < a0 + (s + 1) * 1000).map((h) => h.rows);
    process.stdout.write(`${line(`  +${s} s, hot ≤ ${rows.length ? Math.max(...rows) : '?'}`, inSecond)}\n`);
  }
} finally {
  polling = false;
  await poller.catch(() => undefined);
  await c.end();
  await stopAll([api, ...(split ? [ingestApi] : []), ...workers]);
  await deleteRedisKeys(prefix);
  await admin(`DROP DATABASE ${db} WITH (FORCE)`);
}
