/**
 * `pnpm bench:scaleout [records]`: embedding throughput with 1, 2 and 4
 * worker processes when the provider is the bottleneck: the local OpenAI
 * wire-format server answers each request after 100 ms, batches are 64
 * inputs, and each worker holds one request at a time. Goal: 4 workers ≥
 * 3.5× one worker.
 */
import pg from 'pg';
import { startFakeOpenAI } from '../../test-support/fakeOpenAI.js';
import { deleteRedisKeys, dropDatabase, freshDatabase, machine, now, REDIS, startStack, stop, writeSection } from './harness.js';

const N = Number(process.argv[2] ?? 12_000);
const fake = await startFakeOpenAI({ delayMs: 100 });
const rows: { workers: number; seconds: number; ingest: number; rate: number; requests: number }[] = [];
for (const workers of [1, 2, 4]) {
  const name = `kdb_bench_scale_${process.pid}_${workers}`;
  const url = await freshDatabase(name);
  const env = {
    KDB_DATABASE_URL: url,
    KDB_REDIS_URL: REDIS,
    KDB_QUEUE_PREFIX: `{kdbbench-x-${process.pid}-${workers}}`,
    KDB_AUTH: 'disabled',
    KDB_EMBEDDING_PROVIDER: 'openai',
    KDB_EMBEDDING_DIMENSIONS: '384',
    KDB_EMBEDDING_MAX_INPUTS: '64',
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: fake.url,
  };
  const stack = await startStack({ ...env, KDB_JOB_SIZE: '64' }, workers);
  await fetch(`${stack.url}/v1/entities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', fields: { t: 'text' }, embedFields: ['t'] }),
  });
  fake.requests.length = 0;
  const body = Array.from({ length: N }, (_, i) => JSON.stringify({ t: `scale-out text ${workers} ${i}` })).join('\n');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const t0 = performance.now();
  const res = await fetch(`${stack.url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}`);
  // The workers' part: from the jobs in the queue (202) until every row is ready.
  const t1 = performance.now();
  for (;;) {
    const { rows: r } = await db.query(`SELECT count(*)::int AS n FROM kdb_search WHERE status = 'ready'`);
    if (r[0].n === N) break;
    await new Promise((done) => setTimeout(done, 20));
  }
  const seconds = (performance.now() - t1) / 1000;
  await db.end();
  rows.push({ workers, seconds, ingest: (t1 - t0) / 1000, rate: N / seconds, requests: fake.requests.length });
  process.stderr.write(`${workers} workers: ${(N / seconds).toFixed(0)} records/s\n`);
  await stop([stack.api, ...stack.workers]);
  await deleteRedisKeys(env.KDB_QUEUE_PREFIX);
  await dropDatabase(name);
}
await fake.close();
const base = rows[0]!.rate;
await writeSection('scaleout', [
  '## Horizontal scale-out (`pnpm bench:scaleout`)',
  '',
  `Run ${now()} on ${await machine()}. ${N.toLocaleString('en')} records through the API; the local OpenAI wire-format server answers every request after 100 ms; 64 inputs per request; each worker process holds one request at a time (KDB_WORKER_CONCURRENCY=1). Throughput is the workers' part: from the API's 202 (jobs enqueued) until every row is ready; the API's ingest before it is the same whatever the worker count.`,
  '',
  '| worker processes | API 202 after (s) | workers: 202 → all ready (s) | records/s | provider requests | speed-up vs 1 |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.workers} | ${r.ingest.toFixed(2)} | ${r.seconds.toFixed(2)} | ${Math.round(r.rate)} | ${r.requests} | ${(r.rate / base).toFixed(2)}× |`),
]);
process.exit(0);
