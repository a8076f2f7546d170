/**
 * `pnpm bench:search [records]`: search latency through the HTTP API at
 * concurrency 1 and 8 for each mode, on a mix of rare-term and common-term
 * queries, against the raw SQL of the two retrievers run directly in the same
 * run; and recall@10 of the HNSW retriever against an exact scan.
 */
import os from 'node:os';
import pg from 'pg';
import pgvector from 'pgvector';
import { BM25_B, BM25_K1, bm25Idf, createPool, efSearchFor, HashProvider, HNSW_BUILD, keywordTopKAllLayouts, listVectorSegments, readResultVersions, readStatsAndHeads, SearchEngine, sealedUpTo, tokenize, vectorSql } from '@kameleondb/core';
import { dbUrl, deleteRedisKeys, dropDatabase, freshDatabase, getJson, machine, now, p50p95, percentile, REDIS, startStack, stop, waitCompacted, writeSection } from './harness.js';

const N = Number(process.argv[2] ?? 100_000);
// KDB_BENCH_DB: measure a database an earlier KDB_BENCH_LOAD_ONLY run left (same N), without loading it again.
const reuse = process.env.KDB_BENCH_DB;
const dbName = reuse ?? `kdb_bench_search_${process.pid}`;
const url = reuse ? dbUrl(reuse) : await freshDatabase(dbName);
const env = { KDB_DATABASE_URL: url, KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: `{kdbbench-s-${process.pid}}`, KDB_AUTH: 'disabled' };
const stack = await startStack(env, 2);
// The machine is shared: its load average goes beside the figures.
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' / ');
const loadAtStart = loadAverage();

// A vocabulary with a Zipf-like spread: a few very common words, many rare ones.
const vocab = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const zipf = () => vocab[Math.min(vocab.length - 1, Math.floor(Math.exp(rand() * Math.log(vocab.length))) - 1)]!;
// Documents also belong to one of 500 topics (6 of their words from the topic's 20): real
// embeddings have such neighbourhoods; bags of random words alone have none (every
// document nearly equidistant), which no ANN index answers well.
const TOPICS = 500;
const topicWord = (t: number) => `t${t}x${Math.floor(rand() * 20)}`;
const doc = (i: number) => ({
  title: `Item ${i} ${rand() < 0.4 ? 'common' : zipf()}`,
  body: [...Array.from({ length: 6 }, () => topicWord(i % TOPICS)), ...Array.from({ length: 6 }, zipf)].join(' ') + (i % 997 === 0 ? ` ORD-${i}` : ''),
});

/**
 * POST to the API; throws naming the status and body unless it answered 2xx (and, for an ingest
 * with wait=true, unless every record was done): figures of a corpus half loaded are not kept.
 */
async function post(path: string, body: string, type = 'application/json'): Promise<void> {
  const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  const text = await res.text();
  if (!res.ok || (path.includes('wait=true') && (JSON.parse(text) as { done?: boolean }).done !== true)) {
    throw new Error(`POST ${path} answered ${res.status}: ${text.slice(0, 500)}`);
  }
}

if (!reuse) {
  process.stderr.write(`ingesting ${N}…\n`);
  await post('/v1/entities', JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }));
  let nd = '';
  for (let i = 0; i < N; i++) nd += `${JSON.stringify(doc(i))}\n`;
  await post('/v1/entities/bench/records?wait=true', nd, 'application/x-ndjson');
} else for (let i = 0; i < N; i++) doc(i); // the same random sequence, so the queries are the same
const db = new pg.Client({ connectionString: url });
await db.connect();
process.stderr.write('waiting for the vector segments to be built and merged…\n');
await waitCompacted(db);
await db.query('VACUUM ANALYZE');
// As pgbench does before a run: the load's dirty pages are written now, not by a checkpoint
// spread over the measurement (with shared_buffers at 1 GB it writes for minutes).
await db.query('CHECKPOINT');
const segmentRows = (await listVectorSegments(db, 1)).map((s) => s.rows);
if (process.env.KDB_BENCH_LOAD_ONLY) {
  // For investigations: the loaded database stays, nothing is measured.
  process.stderr.write(`loaded ${url}\n`);
  await stop([stack.api, ...stack.workers]);
  await deleteRedisKeys(env.KDB_QUEUE_PREFIX);
  process.exit(0);
}

// A third rare-term queries, a third with a term found in ~40% of documents, a third
// about a topic (three of its words).
const queries = Array.from({ length: 600 }, (_, i) =>
  i % 3 === 0
    ? `common ${vocab[50 + ((i * 37) % 5000)]}`
    : i % 3 === 1
      ? `${vocab[2000 + ((i * 53) % 15000)]} ${vocab[100 + ((i * 11) % 900)]}`
      : `${topicWord((i * 7) % TOPICS)} ${topicWord((i * 7) % TOPICS)} ${topicWord((i * 7) % TOPICS)}`,
);
const topicQueries = queries.filter((_, i) => i % 3 === 2);
queries.push(...Array.from({ length: 20 }, (_, i) => `ORD-${(i + 1) * 997}`));

// The server's own time of each API search (its took_ms), per mode and concurrency, beside what the client sees.
const tookMs = new Map<string, number[]>();
async function api(mode: string, q: string, concurrency = 1): Promise<void> {
  // cache=false: these figures are of the search itself; the result cache is measured on its own below.
  const answer = await getJson<{ took_ms: number }>(`${stack.url}/v1/search?mode=${mode}&entity=bench&limit=10&cache=false&q=${encodeURIComponent(q)}`);
  const key = `${mode}:${concurrency}`;
  if (!tookMs.has(key)) tookMs.set(key, []);
  tookMs.get(key)!.push(answer.took_ms);
}

async function load(mode: string, concurrency: number, total: number): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const q = queries[next++ % queries.length]!;
        const t = performance.now();
        await api(mode, q, concurrency);
        lat.push(performance.now() - t);
      }
    }),
  );
  return lat;
}

// Raw baseline: the statements of the two retrievers, straight to Postgres
// (no HTTP, JSON, fusion or fetch of the rows): the keyword top-k statements
// (the first one reads the BM25 statistics too, as in the engine), the vector union over the segments; and for reference the
// full BM25 sum over every posting of the query terms.
const provider = new HashProvider();
// The session settings through createPool's sessionSql, which the pool runs before it hands a
// new connection out. A 'connect' listener that sends them unawaited let the first query of a
// new connection run before them, and left them in flight when the pool ended right after: the
// pool closes connections idle for 10 s, so the EXPLAIN after the analyzer part opened one and
// the run died with an unhandled "Connection terminated".
// The candidate list the API's searches use (KDB_EF_SEARCH=auto, its default: efSearchFor the
// largest segment), so raw and API scan the same graphs alike.
const EF_SEARCH = efSearchFor(Math.max(0, ...segmentRows));
const raw = createPool({ connectionString: url, max: 4, applicationName: 'kameleondb-bench', sessionSql: SearchEngine.sessionSql(EF_SEARCH) });
// Statistics are kept in slots (sql/000007): the figures are the sums.
const stats = (await raw.query('SELECT sum(n_docs) AS n_docs, sum(total_len) AS total_len FROM kdb_bm25_stats WHERE entity = $1', ['bench'])).rows[0];
const n = Number(stats.n_docs);
const avgdl = Number(stats.total_len) / n;
const segments = await listVectorSegments(raw, 1);
const VECTOR = vectorSql(segments, false, 40, 1);
const VECTOR_10 = vectorSql(segments, false, 10, 1);
// The full sum's terms with their document frequency and IDF.
const termCache = new Map<string, { term: string; df: number; idf: number }[]>();
async function termsOf(q: string) {
  const hit = termCache.get(q);
  if (hit) return hit;
  const terms = [...new Set(tokenize(q))];
  const dfs = await raw.query('SELECT term, sum(df) AS df FROM kdb_bm25_terms WHERE entity = $1 AND term = ANY($2) GROUP BY term', ['bench', terms]);
  const out = dfs.rows.map((r) => ({ term: r.term as string, df: Number(r.df), idf: bm25Idf(n, Number(r.df)) }));
  termCache.set(q, out);
  return out;
}
// The full sum (a reference, not a retriever) gets its statistics read once, up front.
for (const q of queries) await termsOf(q);
async function rawFullSum(q: string) {
  const present = await termsOf(q);
  return raw.query(
    `SELECT p.record_id, sum(q.idf * (p.tf * ($3::float8 + 1)) / (p.tf + $3::float8 * (1 - $4::float8 + $4::float8 * p.doc_len / $5::float8))) AS score
       FROM unnest($1::text[], $2::float8[]) AS q(term, idf) JOIN kdb_postings_of('bench', $1::text[]) p ON p.term = q.term
      GROUP BY p.record_id ORDER BY score DESC, p.record_id LIMIT 40`,
    [present.map((p) => p.term), present.map((p) => p.idf), BM25_K1, BM25_B, avgdl],
  );
}
// The keyword retriever's statements as the engine runs them: statistics with the first round, then the rest.
const rawKeyword = async (q: string) => {
  const first = await readStatsAndHeads(raw, { entities: ['bench'], terms: [...new Set(tokenize(q))], k: 40 });
  const present = [...first.df].filter(([, d]) => d > 0).map(([term, d]) => ({ term, df: d, idf: bm25Idf(first.documents, d) }));
  if (!present.length) return null;
  return keywordTopKAllLayouts(raw, { entities: ['bench'], terms: present, k: 40, k1: BM25_K1, b: BM25_B, avgdl: first.totalLength / first.documents, firstRound: first.heads, firstGroups: { groups: first.groups, query: first.query } });
};
const rawVector = (q: string) => raw.query({ name: 'raw_vector', text: VECTOR, values: [pgvector.toSql(Array.from(provider.embedOne(q))), ['bench']] });

const fmt = (l: number[]) => `${percentile(l, 50).toFixed(2)} | ${percentile(l, 95).toFixed(2)} | ${percentile(l, 99).toFixed(2)}`;
const took = (key: string) => p50p95(tookMs.get(key) ?? []);
const p95 = new Map<string, number>();
const MODES = ['hybrid', 'vector', 'keyword'] as const;
// Warm-up over every query: prepared statements, and the API's query-vector cache, so
// each mode is measured on queries it has seen (embedding a new query is provider
// time, which the raw baseline does not include either).
for (const mode of MODES) await load(mode, 4, queries.length);
tookMs.clear();
const paths: [string, (q: string) => Promise<unknown>][] = [
  ...MODES.map((mode) => [`API ${mode}`, (q: string) => api(mode, q)] as [string, (q: string) => Promise<unknown>]),
  ['raw keyword (top-k statements)', rawKeyword],
  ['raw keyword (full BM25 sum, reference)', rawFullSum],
  ['raw vector (segments union)', rawVector],
  // The vector statement first, as the engine sends it (SearchEngine.search).
  ['raw hybrid (vector and keyword top-k in parallel)', (q: string) => Promise.all([rawVector(q), rawKeyword(q)])],
];
for (const [, fn] of paths.slice(MODES.length)) for (const q of queries.slice(0, 100)) await fn(q);
// Concurrency 1: every path in turns of 200 queries (the same 200 for each), so the
// machine's drift during the run falls on the API and on its raw baseline alike;
// TURNS turns over the 600 queries, each turn's hybrid ratio reported (the goal is their median).
const TURNS = 5;
const RAW_HYBRID = 'raw hybrid (vector and keyword top-k in parallel)';
const GOAL = ['API hybrid', RAW_HYBRID];
process.stderr.write(`concurrency 1, all paths in ${TURNS} turns…\n`);
const serial = new Map<string, number[]>(paths.map(([name]) => [name, []]));
const turns: { api: number; raw: number; load: string }[] = [];
for (let turn = 0; turn < TURNS; turn++) {
  const start = (turn * 200) % 600;
  const of = new Map<string, number[]>(paths.map(([name]) => [name, []]));
  const timed = async (name: string, fn: (q: string) => Promise<unknown>, q: string) => {
    const t = performance.now();
    await fn(q);
    of.get(name)!.push(performance.now() - t);
  };
  for (const [name, fn] of paths) if (!GOAL.includes(name)) for (const q of queries.slice(start, start + 200)) await timed(name, fn, q);
  // The goal's two paths alternate query by query (each first on every other query), so
  // both see the same moment of a shared machine: separate blocks of 200 were seconds apart.
  const goal = paths.filter(([name]) => GOAL.includes(name));
  for (const [i, q] of queries.slice(start, start + 200).entries()) for (const [name, fn] of i % 2 ? goal : [...goal].reverse()) await timed(name, fn, q);
  for (const [name, lat] of of) serial.get(name)!.push(...lat);
  turns.push({ api: percentile(of.get('API hybrid')!, 95), raw: percentile(of.get(RAW_HYBRID)!, 95), load: os.loadavg()[0]!.toFixed(2) });
}
const turnRatios = turns.map((t) => t.api / t.raw);
const medianRatio = [...turnRatios].sort((a, b) => a - b)[Math.floor(TURNS / 2)]!;
const turnLine = turns.map((t, i) => `${i + 1}: ${t.api.toFixed(2)} ÷ ${t.raw.toFixed(2)} ms = ${turnRatios[i]!.toFixed(2)}× (load ${t.load})`).join('; ');
process.stderr.write(`hybrid API p95 ÷ raw p95 per turn: ${turnLine}; median ${medianRatio.toFixed(2)}×\n`);
const rows: string[] = [];
for (const mode of MODES) {
  const one = serial.get(`API ${mode}`)!;
  p95.set(`${mode}:1`, percentile(one, 95));
  rows.push(`| API ${mode} | 1 | ${fmt(one)} | ${took(`${mode}:1`)} |`);
  process.stderr.write(`${mode} at concurrency 8…\n`);
  const eight = await load(mode, 8, 1600);
  rows.push(`| API ${mode} | 8 | ${fmt(eight)} | ${took(`${mode}:8`)} |`);
}
for (const [name] of paths.slice(MODES.length)) {
  const lat = serial.get(name)!;
  rows.push(`| ${name} | 1 | ${fmt(lat)} | |`);
  p95.set(`raw:${name.split(' ')[1]}`, percentile(lat, 95));
}
process.stderr.write(`${rows.join('\n')}\n`);

// The result cache, hybrid through the API at concurrency 1, every path on each of the
// same 200 queries in turn (3 passes), so the machine's drift falls on all alike: answers from a warm cache against the same searches with cache=false; and a
// miss (each request a new key: a threshold below every score, so the same results)
// with the cache on against cache=false, which is the version check and keeping the answer.
process.stderr.write('result cache…\n');
const hybridWith = (q: string, extra: string) => getJson<{ cached: boolean }>(`${stack.url}/v1/search?mode=hybrid&entity=bench&limit=10&q=${encodeURIComponent(q)}${extra}`);
const cacheQueries = queries.slice(0, 200);
for (const q of cacheQueries) await hybridWith(q, '');
let missKey = 0;
let hits = 0;
let misses = 0;
const cachePaths: [string, (q: string) => Promise<unknown>][] = [
  ['hybrid, warm result cache (hits)', async (q) => (hits += (await hybridWith(q, '')).cached ? 1 : 0)],
  ['hybrid, cache=false', (q) => hybridWith(q, '&cache=false')],
  ['hybrid, cache on, every request a miss', async (q) => (misses += (await hybridWith(q, `&threshold=-${1_000_000 + missKey++}`)).cached ? 0 : 1)],
  ['version check alone (its statement, raw)', () => readResultVersions(raw, ['bench'])],
];
const cacheLat = new Map<string, number[]>(cachePaths.map(([name]) => [name, []]));
for (let pass = 0; pass < 3; pass++) {
  for (const q of cacheQueries) {
    for (const [name, fn] of cachePaths) {
      const t = performance.now();
      await fn(q);
      cacheLat.get(name)!.push(performance.now() - t);
    }
  }
}
const cacheRows = cachePaths.map(([name]) => `| ${name} | ${fmt(cacheLat.get(name)!)} |`);
const p95Of = (name: string) => percentile(cacheLat.get(name)!, 95);
const warmRatio = (p95Of('hybrid, warm result cache (hits)') / p95Of('hybrid, cache=false')).toFixed(2);
const missRatio = (p95Of('hybrid, cache on, every request a miss') / p95Of('hybrid, cache=false')).toFixed(2);
const p50Of = (name: string) => percentile(cacheLat.get(name)!, 50);
const missCost = p50Of('hybrid, cache on, every request a miss') - p50Of('hybrid, cache=false');
process.stderr.write(`${cacheRows.join('\n')}\nwarm/none p95 ${warmRatio}, miss/none p95 ${missRatio}; hits ${hits}/600, misses ${misses}/600\n`);

// Recall@10 of the HNSW retriever against an exact scan, on 100 queries. Many
// documents tie at the same distance, so a hit is any result no farther than
// the exact 10th neighbour (tie-aware recall).
process.stderr.write('recall…\n');
const c = await raw.connect();
const recall = { topic: { hits: 0, total: 0 }, random: { hits: 0, total: 0 } };
for (const [kind, q] of [
  ...topicQueries.slice(0, 50).map((q) => ['topic', q] as const),
  ...queries.filter((_, i) => i % 3 !== 2).slice(0, 50).map((q) => ['random', q] as const),
]) {
  const v = pgvector.toSql(Array.from(provider.embedOne(q)));
  const approx = (await c.query(VECTOR_10, [v, ['bench']])).rows.map((r) => Number(r.distance));
  await c.query('BEGIN');
  await c.query('SET LOCAL enable_indexscan = off');
  await c.query('SET LOCAL enable_bitmapscan = off');
  const exact = (await c.query(`SELECT embedding <=> $1::vector AS d FROM kdb_vectors_1 WHERE entity = 'bench' ORDER BY 1 LIMIT 10`, [v])).rows.map((r) => Number(r.d));
  await c.query('COMMIT');
  const kth = exact[exact.length - 1]!;
  recall[kind].hits += approx.filter((d) => d <= kth + 1e-9).length;
  recall[kind].total += exact.length;
}
c.release();
// english against simple: the same English-like documents in two entities, one per analyzer,
// keyword searches through the API in short turns (the same queries for both).
const M = Math.min(N, 20_000);
process.stderr.write(`english against simple: ${M} records each…\n`);
const STEMS = ['refund', 'order', 'deliver', 'ship', 'pay', 'charge', 'return', 'cancel', 'account', 'invoice', 'request', 'update', 'customer', 'product', 'price', 'discount', 'report', 'review', 'test', 'build'];
const FORMS = ['', 's', 'ed', 'ing', 'er', 'ers'];
const STOPS = ['the', 'a', 'of', 'to', 'and', 'in', 'is', 'for', 'with', 'on'];
const word = () => (rand() < 0.3 ? STOPS[Math.floor(rand() * STOPS.length)]! : `${STEMS[Math.floor(Math.exp(rand() * Math.log(STEMS.length))) - 1]!}${FORMS[Math.floor(rand() * FORMS.length)]!}${rand() < 0.5 ? '' : vocab[Math.floor(rand() * 2000)]}`);
const englishDoc = () => ({ text: Array.from({ length: 12 }, word).join(' ') });
const englishDocs = Array.from({ length: M }, englishDoc);
const ingestMs: Record<string, number> = {};
for (const analyzer of ['simple', 'english'] as const) {
  await post('/v1/entities', JSON.stringify({ name: `bench_${analyzer}`, fields: { text: 'text' }, embedFields: ['text'], analyzer }));
  const t = performance.now();
  await post(`/v1/entities/bench_${analyzer}/records?wait=true`, englishDocs.map((d) => JSON.stringify(d)).join('\n'), 'application/x-ndjson');
  ingestMs[analyzer] = performance.now() - t;
}
const analyzerQueries = Array.from({ length: 300 }, (_, i) => `${STEMS[i % STEMS.length]}${FORMS[(i * 7) % FORMS.length]} ${STEMS[(i * 3 + 1) % STEMS.length]}${FORMS[(i * 5) % FORMS.length]}`);
const analyzerLat: Record<string, number[]> = { simple: [], english: [] };
const analyzerTook: Record<string, number[]> = { simple: [], english: [] };
const keywordOf = (entity: string, q: string) =>
  getJson<{ took_ms: number; cached: boolean }>(`${stack.url}/v1/search?mode=keyword&cache=false&entities=${entity}&limit=10&q=${encodeURIComponent(q)}`);
for (const q of analyzerQueries.slice(0, 50)) for (const a of ['simple', 'english']) await keywordOf(`bench_${a}`, q);
// Short turns (the machine's drift falls on both alike), the analyzer that goes first alternating.
const TURN = 20;
let analyzerCached = 0;
for (let start = 0, turn = 0; start < analyzerQueries.length; start += TURN, turn++) {
  for (const a of turn % 2 === 0 ? ['simple', 'english'] : ['english', 'simple']) {
    for (const q of analyzerQueries.slice(start, start + TURN)) {
      const t = performance.now();
      const answer = await keywordOf(`bench_${a}`, q);
      analyzerLat[a]!.push(performance.now() - t);
      analyzerTook[a]!.push(answer.took_ms);
      if (answer.cached) analyzerCached++;
    }
  }
}
if (analyzerCached) throw new Error(`${analyzerCached} analyzer searches with cache=false were answered from the result cache`);
const analyzerRows = (['simple', 'english'] as const).map((a) => `| ${a} | ${fmt(analyzerLat[a]!)} | ${p50p95(analyzerTook[a]!)} | ${(ingestMs[a]! / 1000).toFixed(1)} |`);
process.stderr.write(`${analyzerRows.join('\n')}\n`);
const analyzerRatio = (percentile(analyzerLat.english!, 95) / percentile(analyzerLat.simple!, 95)).toFixed(2);
const analyzerRatio50 = (percentile(analyzerLat.english!, 50) / percentile(analyzerLat.simple!, 50)).toFixed(2);

// The vector retriever's plan over the segments of the main load (before more entities are loaded below).
const plan = (await raw.query(`EXPLAIN ${VECTOR_10}`, [pgvector.toSql(Array.from(provider.embedOne('common'))), ['bench']])).rows.map((r) => r['QUERY PLAN']).join(' ');

// A small entity beside large ones: 300 records loaded while 30,000 of another entity load, so
// their vectors share segments, a few rows of each theirs. Its vector and hybrid searches through
// the API against the raw exact top 10 of its rows, and the raw statement through the graphs of
// the segments holding its rows (iterative, filtered to it: how those were read before segments
// recorded rows per entity; the segments without its rows were scanned too then).
const SMALL = 300;
process.stderr.write(`a ${SMALL}-record entity beside 30,000 of another…\n`);
for (const name of ['neighbour', 'small']) await post('/v1/entities', JSON.stringify({ name, fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }));
const neighbourLoad = post('/v1/entities/neighbour/records?wait=true', Array.from({ length: 30_000 }, (_, i) => JSON.stringify(doc(N + i))).join('\n'), 'application/x-ndjson');
for (let k = 0; k < 10; k++) {
  await new Promise((r) => setTimeout(r, 200));
  await post('/v1/entities/small/records?wait=true', Array.from({ length: SMALL / 10 }, (_, i) => JSON.stringify(doc(N + 30_000 + k * (SMALL / 10) + i))).join('\n'), 'application/x-ndjson');
}
await neighbourLoad;
await waitCompacted(db);
await db.query('VACUUM ANALYZE');
const smallSegments = (await listVectorSegments(db, 1)).filter((x) => (x.entityRows?.small ?? 0) > 0);
const smallQueries = topicQueries.slice(0, 100);
const exactSmall = `SELECT record_id, embedding <=> $1::vector AS distance FROM kdb_vectors_1 WHERE entity = 'small' ORDER BY 2, 1 LIMIT 10`;
const graphSmall = vectorSql(await listVectorSegments(db, 1).then((all) => all.filter((x) => (x.entityRows?.small ?? 0) > 0)), false, 10, 1, false, { hotAbove: sealedUpTo(await listVectorSegments(db, 1)) });
const smallLat: Record<string, number[]> = { 'API vector': [], 'API hybrid': [], 'raw exact top 10 of its rows': [], 'raw through the graphs of its segments (iterative, filtered)': [] };
const smallTook: Record<string, number[]> = { 'API vector': [], 'API hybrid': [] };
let smallScan = '';
let smallRecall = 0;
const rawSmall = await raw.connect();
try {
  const graphRun = async (v: string) => {
    await rawSmall.query('BEGIN');
    try {
      await rawSmall.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
      return (await rawSmall.query({ name: 'bench_small_graph', text: graphSmall, values: [v, ['small']] })).rows;
    } finally {
      await rawSmall.query('COMMIT');
    }
  };
  for (let pass = 0; pass < 3; pass++) {
    for (const q of smallQueries) {
      const v = pgvector.toSql(Array.from(provider.embedOne(q)));
      const paths: [string, () => Promise<unknown>][] = [
        ['API vector', () => getJson<{ took_ms: number }>(`${stack.url}/v1/search?mode=vector&cache=false&entities=small&limit=10&q=${encodeURIComponent(q)}`).then((a) => pass && smallTook['API vector']!.push(a.took_ms))],
        ['API hybrid', () => getJson<{ took_ms: number }>(`${stack.url}/v1/search?mode=hybrid&cache=false&entities=small&limit=10&q=${encodeURIComponent(q)}`).then((a) => pass && smallTook['API hybrid']!.push(a.took_ms))],
        ['raw exact top 10 of its rows', () => rawSmall.query({ name: 'bench_small_exact', text: exactSmall, values: [v] })],
        ['raw through the graphs of its segments (iterative, filtered)', () => graphRun(v)],
      ];
      // The first path rotates from query to query; pass 0 warms up.
      const first = smallQueries.indexOf(q) % paths.length;
      for (const [name, run] of [...paths.slice(first), ...paths.slice(0, first)]) {
        const t = performance.now();
        await run();
        if (pass) smallLat[name]!.push(performance.now() - t);
      }
    }
  }
  for (const q of smallQueries) {
    const v = pgvector.toSql(Array.from(provider.embedOne(q)));
    const exact = (await rawSmall.query(exactSmall, [v])).rows.map((r) => Number(r.distance));
    const answer = await getJson<{ results: { score: number }[]; explain: { vectorSegments: { sealed: { scan: string }[]; skipped: number } } }>(`${stack.url}/v1/search?mode=vector&cache=false&entities=small&limit=10&explain=true&q=${encodeURIComponent(q)}`);
    const kth = exact[exact.length - 1]!;
    smallRecall += answer.results.filter((r) => 1 - r.score <= kth + 1e-6).length / exact.length;
    const seg = answer.explain.vectorSegments;
    smallScan = `${seg.sealed.filter((x) => x.scan === 'exact').length} segment(s) read exactly, ${seg.sealed.filter((x) => x.scan === 'hnsw').length} through their graph, ${seg.skipped} skipped`;
  }
} finally {
  rawSmall.release();
}
const smallRows = Object.entries(smallLat).map(([name, xs]) => `| ${name} | ${fmt(xs)} | ${smallTook[name] ? p50p95(smallTook[name]!) : ''} |`);
process.stderr.write(`${smallRows.join('\n')}\n`);
const smallRatio = (percentile(smallLat['API vector']!, 95) / percentile(smallLat['raw exact top 10 of its rows']!, 95)).toFixed(2);
const smallGraphRatio = (percentile(smallLat['raw through the graphs of its segments (iterative, filtered)']!, 95) / percentile(smallLat['raw exact top 10 of its rows']!, 95)).toFixed(2);
const smallWhere = smallSegments.map((x) => `${x.entityRows!.small} of a ${x.rows.toLocaleString('en')}-row segment`).join(', ');
const loadAtEnd = loadAverage();
await raw.end();
await db.end();
await stop([stack.api, ...stack.workers]);
await deleteRedisKeys(env.KDB_QUEUE_PREFIX);
if (process.env.KDB_BENCH_KEEP || reuse) process.stderr.write(`kept database ${url}\n`);
else await dropDatabase(dbName);

const ratio = (p95.get('hybrid:1')! / p95.get('raw:hybrid')!).toFixed(2);
// A run at another size gets a section of its own: the default size's figures stay.
await writeSection(N === 100_000 ? 'search' : `search-${N}`, [
  '## Search (`pnpm bench:search`)',
  '',
  `Run ${now()} on ${await machine()}${reuse ? ` (measured with \`KDB_BENCH_DB=${reuse}\` on the database an earlier \`KDB_BENCH_LOAD_ONLY=1 pnpm bench:search\` loaded and compacted)` : ''}. ${N.toLocaleString('en')} records (hash provider, 384 dims, HNSW segments with m=${HNSW_BUILD.m}, ef_construction=${HNSW_BUILD.efConstruction}; ef_search=${EF_SEARCH} for API and raw alike, efSearchFor the largest segment); documents of 500 topics; queries: rare terms, a term in ~40% of documents, three words of a topic, order identifiers; limit 10, hybrid window 40. Each mode after a warm-up pass (prepared statements, query vectors cached), on a database vacuumed, analyzed and checkpointed after the load. Load average (1 / 5 / 15 min) ${loadAtStart} when the processes started, ${loadAtEnd} at the end. At concurrency 1 the API modes and the raw statements run in turns of the same 200 queries; in each turn API hybrid and raw hybrid alternate query by query. Client: node:http, kept-alive connections; "server took_ms": the answer's took_ms (the engine's time, without HTTP, routing, validation and JSON).`,
  '',
  '| path | concurrency | p50 (ms) | p95 (ms) | p99 (ms) | server took_ms p50 / p95 |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows,
  '',
  `Hybrid p95 through the API at concurrency 1 is ${ratio}× the raw SQL of both retrievers run in parallel (which excludes HTTP, JSON, fusion and the fetch of the top rows), over all ${TURNS} turns.`,
  `Per turn (API hybrid p95 ÷ raw hybrid p95, the 1-minute load average after the turn): ${turnLine}. Median over the ${TURNS} turns: ${medianRatio.toFixed(2)}× (goal ≤ 1.3×: ${medianRatio <= 1.3 ? 'met' : 'missed'}).`,
  `Vector recall@10 against an exact scan (tie-aware; an answer as near as the exact 10th counts): ${(recall.topic.hits / recall.topic.total).toFixed(3)} on 50 topic queries, ${(recall.random.hits / recall.random.total).toFixed(3)} on 50 random-word queries (no neighbourhood: every document nearly equidistant).`,
  '',
  `Result cache (hybrid through the API, concurrency 1, each of the same 200 queries on every path in turn, 3 passes; ${hits} of 600 warm requests were hits, ${misses} of 600 miss requests were misses):`,
  '',
  '| path | p50 (ms) | p95 (ms) | p99 (ms) |',
  '|---|---:|---:|---:|',
  ...cacheRows,
  '',
  `p95 with a warm result cache is ${warmRatio}× the p95 without one (cache=false). On a miss (the version check, then the search, then keeping the answer) p95 is ${missRatio}× cache=false; at p50 a miss takes ${missCost >= 0 ? '+' : ''}${missCost.toFixed(2)} ms against cache=false.`,
  '',
  `Keyword search, \`english\` against \`simple\` analyzer: ${M.toLocaleString('en')} English-like records of 12 words (20 stems in 6 inflected forms, 30% stop words) in one entity per analyzer, 300 two-word queries through the API at concurrency 1 with \`cache=false\` (none answered from the result cache), in turns of ${TURN} (the same queries for both, the first analyzer of a turn alternating); ingest is one NDJSON request of all records with \`wait=true\`, once each.`,
  '',
  '| analyzer | p50 (ms) | p95 (ms) | p99 (ms) | server took_ms p50 / p95 | ingest (s) |',
  '|---|---:|---:|---:|---:|---:|',
  ...analyzerRows,
  '',
  `english p95 is ${analyzerRatio}× simple's, p50 ${analyzerRatio50}× (an english query term matches every inflected form of its stem, a simple one only the form typed, so an english term is found in several times as many documents).`,
  '',
  `A ${SMALL}-record entity beside the others: its records loaded in 10 requests while 30,000 of another entity loaded, so its vectors are ${smallWhere || 'hot'}. ${smallQueries.length} topic queries × 2 passes after a warm-up, concurrency 1, \`entities=small\`, \`cache=false\`, the first path rotating from query to query; the API searches it with ${smallScan}.`,
  '',
  '| path | p50 (ms) | p95 (ms) | p99 (ms) | server took_ms p50 / p95 |',
  '|---|---:|---:|---:|---:|',
  ...smallRows,
  '',
  `API vector p95 ÷ the raw exact top 10 of its rows: ${smallRatio}×; the raw statement through the graphs of the segments holding its rows ÷ that exact read: ${smallGraphRatio}×. Vector recall@10 through the API against the exact top 10: ${(smallRecall / smallQueries.length).toFixed(3)}.`,
  '',
  `Vector segments after the load: ${segmentRows.join(' + ')} rows; plan of the vector retriever: ${(plan.match(/Index Scan using kdb_vseg_\S+/g) ?? []).length} HNSW index scans (one per segment) + the hot range.`,
]);
process.exit(0);
