/**
 * A hand measurement behind efSearchFor (docs/decisions/adaptive-ef-search.md),
 * not a benchmark:
 *
 *   node --conditions=source --import tsx scripts/bench/measureEfGrowth.ts [sizes] [ef,ef,…]
 *
 * The case `auto` must cover: ONE graph holding whole neighbourhoods. Per size
 * N, bench:scale's corpus of N records (N/100 topics of 100 records, topic
 * share 0.3, hash provider vectors) goes into one plain table with one HNSW
 * index at the segments' build settings (HNSW_BUILD); then recall@10 of 50 of
 * bench:scale's topic queries against an exact scan (tie-aware), and p50/p95
 * of the statement over 2 passes, at each ef_search. A fresh database per
 * size, dropped after.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pgvector from 'pgvector';
import { efSearchFor, HashProvider, HNSW_BUILD } from '@kameleondb/core';
import { dbUrl, percentile } from './harness.js';
import { topicQueries, topicsOf, zipfCorpus } from './zipfCorpus.js';

const sizes = (process.argv[2] ?? '100000,250000,400000').split(',').map(Number);
const efs = (process.argv[3] ?? '40,64,100,140,180').split(',').map(Number);
const DB = 'kdb_bench_efgrowth';
const provider = new HashProvider();
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

const admin = new pg.Client({ connectionString: dbUrl('postgres') });
await admin.connect();
for (const n of sizes) {
  await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin.query(`CREATE DATABASE ${DB}`);
  const c = new pg.Client({ connectionString: dbUrl(DB) });
  await c.connect();
  try {
    await c.query('CREATE EXTENSION vector');
    await c.query('CREATE TABLE v (id int PRIMARY KEY, embedding vector(384))');
    await c.query('ALTER TABLE v ALTER embedding SET STORAGE PLAIN');
    let t = performance.now();
    const topics = topicsOf(n);
    const corpus = zipfCorpus(n, { topics, topicShare: 0.3 });
    let i = 0;
    const lines = Readable.from(
      (function* () {
        for (const r of corpus) yield `${i++}\t[${Array.from(provider.embedOne(r.body)).join(',')}]\n`;
      })(),
    );
    await pipeline(lines, c.query(copyFrom('COPY v (id, embedding) FROM STDIN')));
    log(`${n}: ${i} vectors in ${((performance.now() - t) / 1000).toFixed(1)} s; building HNSW m=${HNSW_BUILD.m} ef_construction=${HNSW_BUILD.efConstruction}…`);
    t = performance.now();
    await c.query(`SET maintenance_work_mem = '4GB'`);
    await c.query(`CREATE INDEX v_hnsw ON v USING hnsw (embedding vector_cosine_ops) WITH (m = ${HNSW_BUILD.m}, ef_construction = ${HNSW_BUILD.efConstruction})`);
    log(`${n}: built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const queries = topicQueries(120, topics).slice(0, 50).map((q) => pgvector.toSql(Array.from(provider.embedOne(q))));
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_indexscan = off');
    const kth: number[] = [];
    for (const q of queries) kth.push(Number((await c.query(`SELECT embedding <=> $1 AS d FROM v ORDER BY 1 LIMIT 10`, [q])).rows[9].d));
    await c.query('COMMIT');
    const line: string[] = [];
    for (const ef of efs) {
      await c.query(`SET hnsw.ef_search = ${ef}`);
      let found = 0;
      const ms: number[] = [];
      for (let pass = 0; pass < 3; pass++) {
        for (const [j, q] of queries.entries()) {
          const s = performance.now();
          const rows = (await c.query({ name: `knn`, text: `SELECT embedding <=> $1 AS d FROM v ORDER BY embedding <=> $1 LIMIT 10`, values: [q] })).rows;
          if (pass > 0) ms.push(performance.now() - s);
          else found += rows.filter((r) => Number(r.d) <= kth[j]! + 1e-6).length;
        }
      }
      const recall = Math.min(1, found / (10 * queries.length));
      line.push(`ef ${ef}: recall ${recall.toFixed(3)}, p50/p95 ${percentile(ms, 50).toFixed(2)}/${percentile(ms, 95).toFixed(2)} ms`);
    }
    console.log(`${n} rows (auto ef ${efSearchFor(n)}): ${line.join('; ')}`);
  } finally {
    await c.end();
    await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
  }
}
await admin.end();
