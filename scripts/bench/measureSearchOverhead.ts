/**
 * A hand measurement behind a design decision (docs/decisions/), not a benchmark:
 * `KDB_BENCH_DB=<a KDB_BENCH_LOAD_ONLY=1 pnpm bench:search database> node --conditions=source --import tsx scripts/bench/measureSearchOverhead.ts [turns] [queries per turn]`
 * copies that database, starts an API process (no worker) on the copy and
 * sends hybrid searches (cache=false) at concurrency 1, where the API adds
 * time over the raw SQL of the two retrievers, path by path on each query in
 * rotating order (default 5 turns of 200 queries):
 * - raw: the two retrievers' statements in parallel, as bench:search's raw hybrid;
 * - raw + fetch: the same, RRF, then the fetch of the top 10 rows;
 * - engine: SearchEngine.search in this process (no HTTP), with its steps;
 * - API: GET /v1/search through node:http keep-alive, and its took_ms;
 * - healthz: GET /healthz on the same connection (HTTP and Express alone).
 * Then, in process, the cost of the request's own work per search: query
 * string parsing, zod, toSearchParams and JSON of an answer. The copy is
 * dropped afterwards.
 */
import os from 'node:os';
import pgvector from 'pgvector';
import { BM25_B, BM25_K1, bm25Idf, createPool, HashProvider, keywordTopK, listVectorSegments, readStatsAndHeads, SearchEngine, tokenize, vectorSql, type SearchAnswer } from '@kameleondb/core';
import { searchSchema } from '../../packages/schemas/src/index.js';
import { parseQueryString } from '../../apps/api/src/parseQueryString.js';
import { parseBody } from '../../apps/api/src/parseBody.js';
import { toSearchParams } from '../../apps/api/src/toSearchParams.js';
import { startApiProcess, stopAll } from '../../test-support/processes.js';
import { admin, dbUrl, deleteRedisKeys, getJson, p50p95, percentile, REDIS } from './harness.js';

const template = process.env.KDB_BENCH_DB;
if (!template) throw new Error('set KDB_BENCH_DB to a database loaded by KDB_BENCH_LOAD_ONLY=1 pnpm bench:search');
const TURNS = Number(process.argv[2] ?? 5);
const PER_TURN = Number(process.argv[3] ?? 200);
const db = `kdb_bench_overhead_${process.pid}`;
await admin(`CREATE DATABASE ${db} TEMPLATE ${template}`);
const url = dbUrl(db);
const prefix = `{kdbbench-o-${process.pid}}`;
const api = await startApiProcess({ KDB_DATABASE_URL: url, KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });
const provider = new HashProvider();
const raw = createPool({ connectionString: url, max: 4, applicationName: 'kameleondb-bench-raw', sessionSql: SearchEngine.sessionSql() });
const steps: Record<string, number>[] = [];
const enginePool = createPool({ connectionString: url, max: 10, sessionSql: SearchEngine.sessionSql() });
const engine = new SearchEngine({ pool: enginePool, provider, observe: (o) => steps.push({ ...o.steps }) });

try {
  // The queries of bench:search: a third rare terms with a term in ~40% of documents, a third two rare terms, a third topic words.
  const vocab = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const topicWord = (t: number) => `t${t}x${Math.floor(rand() * 20)}`;
  const queries = Array.from({ length: TURNS * PER_TURN }, (_, i) =>
    i % 3 === 0
      ? `common ${vocab[50 + ((i * 37) % 5000)]}`
      : i % 3 === 1
        ? `${vocab[2000 + ((i * 53) % 15000)]} ${vocab[100 + ((i * 11) % 900)]}`
        : `${topicWord((i * 7) % 500)} ${topicWord((i * 7) % 500)} ${topicWord((i * 7) % 500)}`,
  );

  const segments = await listVectorSegments(raw, 1);
  const VECTOR = vectorSql(segments, false, 40, 1);
  const rawVector = async (q: string) => (await raw.query<{ id: string; distance: number }>({ name: 'raw_vector', text: VECTOR, values: [pgvector.toSql(Array.from(provider.embedOne(q))), ['bench']] })).rows;
  const rawKeyword = async (q: string) => {
    const first = await readStatsAndHeads(raw, { entities: ['bench'], terms: [...new Set(tokenize(q))], k: 40 });
    const present = [...first.df].filter(([, d]) => d > 0).map(([term, d]) => ({ term, df: d, idf: bm25Idf(first.documents, d) }));
    if (!present.length) return [];
    return (await keywordTopK(raw, { entities: ['bench'], terms: present, k: 40, k1: BM25_K1, b: BM25_B, avgdl: first.totalLength / first.documents, firstRound: first.heads })).hits;
  };
  const rawHybrid = (q: string) => Promise.all([rawVector(q), rawKeyword(q)]);
  const rawHybridFetch = async (q: string) => {
    const [v, k] = await rawHybrid(q);
    const score = new Map<string, number>();
    v.forEach((h, i) => score.set(h.id, (score.get(h.id) ?? 0) + 1 / (61 + i)));
    k.forEach((h, i) => score.set(h.id, (score.get(h.id) ?? 0) + 1 / (61 + i)));
    const top = [...score].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([id]) => id);
    return raw.query({ name: 'raw_fetch', text: 'SELECT r.id, r.data, s.content FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.id = ANY($1::uuid[])', values: [top] });
  };
  const took: number[] = [];
  const searchUrl = (q: string) => `${api.url}/v1/search?mode=hybrid&entity=bench&limit=10&cache=false&q=${encodeURIComponent(q)}`;
  const paths: [string, (q: string) => Promise<unknown>][] = [
    ['raw (both retrievers)', rawHybrid],
    ['raw + RRF + fetch', rawHybridFetch],
    ['engine in process', (q) => engine.search({ q, entities: ['bench'], mode: 'hybrid', limit: 10, cache: false })],
    ['API', async (q) => took.push((await getJson<{ took_ms: number }>(searchUrl(q))).took_ms)],
    ['GET /healthz', () => getJson(`${api.url}/healthz`)],
  ];
  // Warm-up: prepared statements on every connection, the query vectors in both engines' caches.
  for (const q of queries) for (const [, fn] of paths) await fn(q);
  took.length = 0;
  steps.length = 0;

  const lat = new Map<string, number[][]>(paths.map(([name]) => [name, []]));
  for (let turn = 0; turn < TURNS; turn++) {
    for (const l of lat.values()) l.push([]);
    for (const [i, q] of queries.slice(turn * PER_TURN, (turn + 1) * PER_TURN).entries()) {
      for (let j = 0; j < paths.length; j++) {
        const [name, fn] = paths[(i + j) % paths.length]!;
        const t = performance.now();
        await fn(q);
        lat.get(name)![turn]!.push(performance.now() - t);
      }
    }
  }
  const all = (name: string) => lat.get(name)!.flat();
  const out = [`${TURNS} turns of ${PER_TURN} hybrid queries, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`, 'path                    p50 / p95 (ms)   p95 per turn'];
  for (const [name] of paths) out.push(`${name.padEnd(24)}${p50p95(all(name)).padEnd(17)}${lat.get(name)!.map((t) => percentile(t, 95).toFixed(2)).join(' ')}`);
  out.push(`${'API took_ms'.padEnd(24)}${p50p95(took)}`);
  const ratios = lat.get('API')!.map((t, i) => percentile(t, 95) / percentile(lat.get('raw (both retrievers)')![i]!, 95));
  out.push(`API p95 ÷ raw p95 per turn: ${ratios.map((r) => r.toFixed(2)).join(' ')}; median ${[...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!.toFixed(2)}`);
  out.push('engine steps p50 / p95 (ms):');
  for (const key of [...new Set(steps.flatMap((s) => Object.keys(s)))]) out.push(`  ${key.padEnd(14)}${p50p95(steps.map((s) => s[key] ?? 0), 3)}`);

  // The request's own work, in process: 10,000 times each.
  const answer = await engine.search({ q: queries[0]!, entities: ['bench'], mode: 'hybrid', limit: 10, cache: false });
  const qs = searchUrl(queries[0]!).split('?')[1]!;
  const micro = (name: string, fn: () => unknown) => {
    const t = performance.now();
    for (let i = 0; i < 10_000; i++) fn();
    out.push(`  ${name.padEnd(40)}${(((performance.now() - t) / 10_000) * 1000).toFixed(1)} µs`);
  };
  out.push('per request, in process:');
  micro('query string parse', () => parseQueryString(qs));
  micro('query string + zod + toSearchParams', () => toSearchParams(parseBody(searchSchema, { ...parseQueryString(qs) })));
  micro(`JSON of an answer (${JSON.stringify(answer satisfies SearchAnswer).length} bytes)`, () => JSON.stringify(answer));
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await engine.close();
  await enginePool.end();
  await raw.end();
  await stopAll([api]);
  await deleteRedisKeys(prefix);
  await admin(`DROP DATABASE ${db} WITH (FORCE)`);
}
