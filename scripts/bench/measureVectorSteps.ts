/**
 * A hand measurement behind design decisions (docs/decisions/), not a benchmark:
 * `node --conditions=source --import tsx scripts/bench/measureVectorSteps.ts --load N` loads
 * bench:peer's corpus of N records through an API and 2 workers (openai provider against the
 * local OpenAI wire-format server), waits until every vector is in a sealed segment and keeps the
 * database, printing its name; `KDB_BENCH_DB=<that name> … measureVectorSteps.ts [--ef 40] [--turns 3]`
 * then times, in this process on one connection, in turns over bench:peer's 300 queries, the
 * pieces of a vector top-10 one by one: our vector statement as the retriever sends it, each
 * segment's HNSW scan alone with and without the entity filter, the hot-range scan, the segment
 * catalog read, the row fetch, and LangChain's one statement on a copy of the vectors with its
 * own HNSW index (m=16, ef_construction=64).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import pgvector from 'pgvector';
import { listVectorSegments, vectorSql } from '@kameleondb/core';
import { VectorRetriever } from '../../packages/core/src/search/VectorRetriever.js';
import { startFakeOpenAI } from '../../test-support/fakeOpenAI.js';
import { dbUrl, deleteRedisKeys, freshDatabase, getJson, percentile, startStack, stop, waitCompacted } from './harness.js';
import { ndjsonOf } from './ingestRecord.js';
import { PEER_DIMENSIONS, peerQueries } from './peer/corpus.js';
import { createBenchEntity, ourEnv } from './peer/ourTurn.js';

const { values: args } = parseArgs({ options: { load: { type: 'string' }, ef: { type: 'string', default: '40' }, turns: { type: 'string', default: '3' }, only: { type: 'string' } } });
const fake = await startFakeOpenAI();

if (args.load) {
  const n = Number(args.load);
  const name = `kdb_i24_vec_${n}_${process.pid}`;
  const url = await freshDatabase(name);
  const prefix = `{kdbi24-${process.pid}}`;
  const stack = await startStack(ourEnv(name, prefix, fake), 2);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await createBenchEntity(stack.url);
    const res = await fetch(`${stack.url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjsonOf(0, n) });
    if (res.status !== 202) throw new Error(`ingest answered ${res.status}`);
    await waitCompacted(c);
    // The query vectors go into the embedding cache, as the bench's warm-up pass leaves them.
    for (const q of peerQueries(300)) await getJson(`${stack.url}/v1/search?mode=vector&cache=false&entity=bench&limit=10&q=${encodeURIComponent(q)}`);
    // LangChain's table and index beside ours, from the same vectors.
    await c.query('CREATE TABLE peer_documents AS SELECT record_id AS id, embedding FROM kdb_vectors_1');
    await c.query("SET maintenance_work_mem = '1GB'");
    await c.query('CREATE INDEX ON peer_documents USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)');
    await c.query('VACUUM ANALYZE');
    process.stdout.write(`loaded ${name}: ${JSON.stringify((await listVectorSegments(c, 1)).map((s) => s.rows))}\n`);
  } finally {
    await c.end();
    await stop([stack.api, ...stack.workers]);
    await deleteRedisKeys(prefix);
    await fake.close();
  }
  process.exit(0);
}

const dbName = process.env.KDB_BENCH_DB;
if (!dbName) throw new Error('set KDB_BENCH_DB to a database made by --load N, or pass --load N');
const ef = Number(args.ef);
// Two connections: a filtered statement's COMMIT, off the answer's path, may still hold one.
const pool = new pg.Pool({ connectionString: dbUrl(dbName), max: 2 });
pool.on('connect', (c) => void c.query(`SET hnsw.ef_search = ${ef}`));
const segments = await listVectorSegments(pool, 1);
const queries = peerQueries(300);
const vectors = queries.map((q) => pgvector.toSql(Array.from(fake.vectorOf(q, PEER_DIMENSIONS))) as string);
const ids = (await pool.query<{ id: string }>('SELECT record_id AS id FROM kdb_vectors_1 LIMIT 10')).rows.map((r) => r.id);
const hi = segments[segments.length - 1]?.hi ?? '0';

const retriever = new VectorRetriever({ pool, efSearch: ef });
type Step = { name: string; run: (v: string) => Promise<unknown> };
const q = (name: string, text: string, values: (v: string) => unknown[]) => ({ name, run: (v: string) => pool.query({ name: `m_${name}`, text, values: values(v) }) });
const steps: Step[] = [
  q('ours: vector statement', vectorSql(segments, false, 10, 1), (v) => [v, ['bench']]),
  ...segments.map((s, i) =>
    q(`segment ${i} (${s.rows} rows) HNSW, entity filter`, `SELECT s.record_id AS id, s.entity, s.embedding <=> $1::vector AS distance FROM kdb_vectors_1 s WHERE s.vector_seq BETWEEN ${s.lo} AND ${s.hi} AND s.entity = ANY($2::text[]) AND s.embedding IS NOT NULL ORDER BY s.embedding <=> $1::vector LIMIT 10`, (v) => [v, ['bench']]),
  ),
  ...segments.map((s, i) =>
    q(`segment ${i} HNSW, no entity filter`, `SELECT s.record_id AS id, s.entity, s.embedding <=> $1::vector AS distance FROM kdb_vectors_1 s WHERE s.vector_seq BETWEEN ${s.lo} AND ${s.hi} ORDER BY s.embedding <=> $1::vector LIMIT 10`, (v) => [v]),
  ),
  q('hot range (empty) exact', `SELECT s.record_id AS id, s.entity, s.embedding <=> $1::vector AS distance FROM kdb_vectors_1 s WHERE s.vector_seq > ${hi} AND s.entity = ANY($2::text[]) AND s.embedding IS NOT NULL ORDER BY s.embedding <=> $1::vector LIMIT 10`, (v) => [v, ['bench']]),
  q('row fetch of 10', 'SELECT r.id, r.data, s.content FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.id = ANY($1::uuid[])', () => [ids]),
  q('SELECT 1 (round trip)', 'SELECT 1', () => []),
  { name: 'segment catalog', run: () => listVectorSegments(pool, 1) },
  {
    name: 'filtered, 4 round trips (BEGIN, SET LOCAL, statement, COMMIT)',
    run: async (v: string) => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
        await c.query({ name: 'm_filtered', text: vectorSql(segments, false, 10, 1), values: [v, ['bench']] });
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    },
  },
  {
    name: 'filtered, VectorRetriever.run (settings in 1, COMMIT off the path)',
    run: (v: string) => retriever.run({ name: 'm_filtered', text: vectorSql(segments, false, 10, 1), values: [v, ['bench']] }, true, 10),
  },
  {
    name: 'vector statement, then row fetch (2 round trips)',
    run: async (v: string) => {
      const { rows } = await pool.query<{ id: string }>({ name: 'm_ours: vector statement', text: vectorSql(segments, false, 10, 1), values: [v, ['bench']] });
      await pool.query({ name: 'm_row fetch of 10', text: 'SELECT r.id, r.data, s.content FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.id = ANY($1::uuid[])', values: [rows.map((r) => r.id)] });
    },
  },
  q(
    'vector statement with the rows joined (1 round trip)',
    `SELECT u.id, u.entity, u.distance, rr.data, ss.content FROM (${vectorSql(segments, false, 10, 1)}) u JOIN kdb_records rr ON rr.id = u.id JOIN kdb_search ss ON ss.record_id = u.id ORDER BY u.distance, u.id`,
    (v) => [v, ['bench']],
  ),
  q('LangChain: one statement, m=16/64', 'SELECT id, embedding <=> $1::vector AS d FROM peer_documents ORDER BY embedding <=> $1::vector LIMIT 10', (v) => [v]),
].filter((s) => !args.only || s.name.includes(args.only));

const times = new Map<string, number[]>(steps.map((s) => [s.name, []]));
for (const s of steps) for (const v of vectors) await s.run(v); // warm-up: plans, pages
for (let turn = 0; turn < Number(args.turns); turn++) {
  for (let i = 0; i < vectors.length; i++) {
    for (const s of steps) {
      const t = performance.now();
      await s.run(vectors[i]!);
      times.get(s.name)!.push(performance.now() - t);
    }
  }
}
const { rows: load } = await pool.query<{ l: string }>("SELECT pg_read_file('/proc/loadavg') AS l").catch(() => ({ rows: [{ l: '?' }] }));
process.stdout.write(`ef_search ${ef}, segments ${JSON.stringify(segments.map((s) => s.rows))}, ${vectors.length} queries × ${args.turns} turns; load average ${load[0]!.l.trim()}\n`);
for (const [name, xs] of times) process.stdout.write(`${name.padEnd(48)} p50 ${percentile(xs, 50).toFixed(3)}  p95 ${percentile(xs, 95).toFixed(3)} ms\n`);
await pool.end();
await fake.close();
