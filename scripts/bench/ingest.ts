/**
 * `pnpm bench:ingest [sizes…]`: N records through the API until all are
 * embedded (hash provider, 2 worker processes), against raw baselines measured
 * in the same run on the same rows: binary COPY with precomputed vectors into
 * a table that has its HNSW index, and into one without it followed by the
 * index build. Prints a table and rewrites its section of BENCHMARKS.md.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { copyInto, HashProvider, migrate } from '@kameleondb/core';
import { dbUrl, dropDatabase, freshDatabase, machine, now, REDIS, startStack, stop, writeSection } from './harness.js';

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
if (sizes.length === 0) sizes.push(30_000, 100_000);

const record = (i: number) => ({ title: `Record ${i}`, body: `benchmark text about subject ${i % 1000} with detail ${i}` });

interface Row {
  n: number;
  pipelineS: number;
  ingestS: number;
  redisKeys: number;
  redisBytes: number;
  requests: number;
  batches: number;
  copyIndexedS: number;
  copyThenBuildS: number;
  copyS: number;
  buildS: number;
}

async function pipelineRun(n: number): Promise<Pick<Row, 'pipelineS' | 'ingestS' | 'requests' | 'batches' | 'redisKeys' | 'redisBytes'>> {
  const db = `kdb_bench_${n}_${process.pid}`;
  await freshDatabase(db);
  const env = { KDB_DATABASE_URL: dbUrl(db), KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: `{kdbbench-${process.pid}-${n}}`, KDB_AUTH: 'disabled', KDB_LOG_LEVEL: 'info' };
  const { url, api, workers } = await startStack(env, 2);
  await fetch(`${url}/v1/entities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }),
  });
  let body = '';
  for (let i = 0; i < n; i++) body += `${JSON.stringify(record(i))}\n`;
  const c = new pg.Client({ connectionString: dbUrl(db) });
  await c.connect();
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  const ingestS = (performance.now() - t0) / 1000;
  for (;;) {
    const { rows } = await c.query(`SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready, count(*) FILTER (WHERE status <> 'ready')::int AS other FROM kdb_search`);
    if (rows[0].other === 0 && rows[0].ready === n) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const pipelineS = (performance.now() - t0) / 1000;
  await c.end();
  // Workers log their totals when they stop.
  await stop([...workers, api]);
  let requests = 0;
  let batches = 0;
  for (const w of workers) {
    const m = /"totals":(\{[^}]+\})/.exec(w.output());
    if (!m) continue;
    const t = JSON.parse(m[1]!) as { requests: number; batches: number };
    requests += t.requests;
    batches += t.batches;
  }
  await dropDatabase(db);
  // What the run left in Redis: completed jobs are capped, events trimmed.
  const redis = new Redis(REDIS);
  let redisKeys = 0;
  let redisBytes = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.KDB_QUEUE_PREFIX}:*`, 'COUNT', 1000);
    for (const k of keys) {
      redisKeys += 1;
      redisBytes += (await redis.memory('USAGE', k)) ?? 0;
      await redis.del(k);
    }
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
  return { pipelineS, ingestS, requests, batches, redisKeys, redisBytes };
}

async function rawBaselines(n: number): Promise<Pick<Row, 'copyIndexedS' | 'copyThenBuildS' | 'copyS' | 'buildS'>> {
  const db = `kdb_bench_raw_${process.pid}`;
  await freshDatabase(db);
  await migrate({ connectionString: dbUrl(db), dimensions: 384 });
  const provider = new HashProvider();
  const rows = Array.from({ length: n }, (_, i) => {
    const r = record(i);
    const content = `title: ${r.title} | body: ${r.body}`;
    return [content, provider.embedOne(content)] as const;
  });
  const c = new pg.Client({ connectionString: dbUrl(db) });
  await c.connect();
  await c.query(`SET maintenance_work_mem = '512MB'`);
  const table = `CREATE TABLE raw (content text, embedding vector(384)); ALTER TABLE raw ALTER embedding SET STORAGE PLAIN`;
  const index = `CREATE INDEX ON raw USING hnsw (embedding vector_cosine_ops)`;
  const copy = async () => {
    for (let i = 0; i < rows.length; i += 10_000) await copyInto(c, 'raw', ['content', 'embedding'], rows.slice(i, i + 10_000));
  };
  await c.query(`${table}; ${index}`);
  let t = performance.now();
  await copy();
  const copyIndexedS = (performance.now() - t) / 1000;
  await c.query(`DROP TABLE raw; ${table}`);
  t = performance.now();
  await copy();
  const copyS = (performance.now() - t) / 1000;
  t = performance.now();
  await c.query(index);
  const buildS = (performance.now() - t) / 1000;
  await c.end();
  await dropDatabase(db);
  return { copyIndexedS, copyThenBuildS: copyS + buildS, copyS, buildS };
}

const results: Row[] = [];
for (const n of sizes) {
  process.stderr.write(`pipeline ${n}…\n`);
  const p = await pipelineRun(n);
  process.stderr.write(`raw baselines ${n}…\n`);
  const raw = await rawBaselines(n);
  results.push({ n, ...p, ...raw });
}

const f = (x: number) => x.toFixed(2);
await writeSection('ingest', [
  '## Ingest (`pnpm bench:ingest`)',
  '',
  `Run ${now()} on ${await machine()} (HNSW m=16, ef_construction=64).`,
  'Pipeline: one NDJSON request to the API (answered 202 once records are committed and jobs enqueued), then until every row is embedded and written (hash provider, 2 worker processes, HNSW index live).',
  'Raw baselines, same rows, vectors precomputed, binary COPY in 10k-row chunks: into a table that already has its HNSW index, and into an unindexed table followed by `CREATE INDEX` (maintenance_work_mem 512MB).',
  '',
  '| records | pipeline wall (s) | records/s | API answered 202 after (s) | embed batches | provider requests | Redis keys / memory left (KB) | raw COPY into indexed table (s) | raw COPY (s) + index build (s) |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...results.map(
    (r) => `| ${r.n} | ${f(r.pipelineS)} | ${Math.round(r.n / r.pipelineS)} | ${f(r.ingestS)} | ${r.batches} | ${r.requests} | ${r.redisKeys} / ${Math.round(r.redisBytes / 1024)} | ${f(r.copyIndexedS)} | ${f(r.copyS)} + ${f(r.buildS)} = ${f(r.copyThenBuildS)} |`,
  ),
]);
process.exit(0);
