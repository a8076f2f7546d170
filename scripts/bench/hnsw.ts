/**
 * `pnpm bench:hnsw [database-url]`: the HNSW trade-off on the search
 * benchmark's corpus (100,000 records of 500 topics, hash provider): for
 * several build settings (m, ef_construction), the build time of the one
 * 100k segment, then recall@10 against an exact scan and the latency of the
 * vector retriever's statement at several ef_search values. Without a URL it
 * first loads the corpus (`KDB_BENCH_LOAD_ONLY=1 pnpm bench:search`).
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import pgvector from 'pgvector';
import { DEFAULT_EF_SEARCH, HashProvider, HNSW_BUILD, listVectorSegments, vectorSql } from '@kameleondb/core';
import { dropDatabase, machine, now, percentile, ROOT, writeSection } from './harness.js';

let url = process.argv[2];
let loaded = false;
if (!url) {
  process.stderr.write('loading the search corpus…\n');
  const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', 'scripts/bench/search.ts'], {
    cwd: ROOT,
    env: { ...process.env, KDB_BENCH_LOAD_ONLY: '1' },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  url = /loaded (\S+)/.exec(run.stderr)?.[1];
  if (!url) throw new Error(`loading failed:\n${run.stderr.slice(-2000)}`);
  loaded = true;
}
const c = new pg.Client({ connectionString: url });
await c.connect();
await c.query(`SET maintenance_work_mem = '1GB'`);
const provider = new HashProvider();
// The benchmark's topic queries: three words of one topic.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const topicWord = (t: number) => `t${t}x${Math.floor(rand() * 20)}`;
const queries = Array.from({ length: 100 }, (_, i) => `${topicWord((i * 7) % 500)} ${topicWord((i * 7) % 500)} ${topicWord((i * 7) % 500)}`);
const vectors = queries.map((q) => pgvector.toSql(Array.from(provider.embedOne(q))));

// Exact 10th distances, for tie-aware recall.
await c.query('BEGIN');
await c.query('SET LOCAL enable_indexscan = off');
await c.query('SET LOCAL enable_bitmapscan = off');
const tenth: number[] = [];
for (const v of vectors) tenth.push(Number((await c.query(`SELECT embedding <=> $1::vector AS d FROM kdb_vectors_1 ORDER BY 1 LIMIT 10`, [v])).rows[9].d));
await c.query('COMMIT');

const [segment] = await listVectorSegments(c, 1);
if (!segment) throw new Error('the corpus has no sealed segment');
const sql = vectorSql([segment], false, 40, 1);
const rows: string[] = [];
let current = segment.indexName;
for (const [m, efc] of [[16, 64], [24, 96], [24, 192], [32, 128]] as const) {
  const name = `kdb_bench_hnsw_m${m}_ef${efc}`;
  process.stderr.write(`building m=${m} ef_construction=${efc}…\n`);
  const t = performance.now();
  await c.query(
    `CREATE INDEX ${name} ON kdb_vectors_1 USING hnsw (embedding vector_cosine_ops) WITH (m = ${m}, ef_construction = ${efc})
      WHERE vector_seq BETWEEN ${segment.lo} AND ${segment.hi}`,
  );
  const buildS = (performance.now() - t) / 1000;
  await c.query(`DROP INDEX ${current}`);
  current = name;
  for (const ef of [40, 64, 100, 200]) {
    await c.query(`SET hnsw.ef_search = ${ef}`);
    let hits = 0;
    const lat: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      for (let i = 0; i < vectors.length; i++) {
        const s = performance.now();
        const r = await c.query(sql, [vectors[i], ['bench']]);
        lat.push(performance.now() - s);
        if (rep === 0) hits += r.rows.slice(0, 10).filter((x) => Number(x.distance) <= tenth[i]! + 1e-9).length;
      }
    }
    rows.push(`| ${m} | ${efc} | ${buildS.toFixed(1)} | ${ef} | ${(hits / (vectors.length * 10)).toFixed(3)} | ${percentile(lat, 50).toFixed(2)} | ${percentile(lat, 95).toFixed(2)} |`);
    process.stderr.write(`${rows[rows.length - 1]}\n`);
  }
}
await c.end();
if (loaded) await dropDatabase(new URL(url).pathname.slice(1));

await writeSection('hnsw', [
  '## HNSW build settings: recall against latency (`pnpm bench:hnsw`)',
  '',
  `Run ${now()} on ${await machine()}. The search benchmark's 100,000 records (500 topics, hash provider) as one segment; 100 topic queries (three words of a topic); the vector retriever's statement (LIMIT 40, as hybrid search asks) at concurrency 1; recall@10 against an exact scan, tie-aware.`,
  `Hash vectors of topic words make tight, isolated clusters: a graph with few links per node often cannot reach a cluster from its entry point, whatever ef_search; more links (m) fix that at the cost of build time and query time, and a wider ef_construction builds a graph good enough for a small ef_search. Defaults: m=${HNSW_BUILD.m}, ef_construction=${HNSW_BUILD.efConstruction}, ef_search=${DEFAULT_EF_SEARCH}; unfiltered statements, as the engine runs them (no iterative scan). Segments are built after a load (not during it), so build time is off the ingest path; \`KDB_HNSW_M\` and \`KDB_HNSW_EF_CONSTRUCTION\` set them, \`KDB_EF_SEARCH\` the search side.`,
  '',
  '| m | ef_construction | build of 100k (s) | ef_search | recall@10 | p50 (ms) | p95 (ms) |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...rows,
], 'docs/benchmarks/hnsw.md');
process.exit(0);
