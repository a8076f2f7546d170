/**
 * `pnpm bench:ingest [sizes…]`: records through the API until every one is
 * embedded and searchable (hash provider, 2 worker processes), on an empty
 * system for each size, then live: 30,000 more into the largest, already
 * indexed entity while a search client keeps querying. Raw baselines on the
 * same rows in the same run: binary COPY with precomputed vectors into a
 * table that has its HNSW index, and into one without it followed by the
 * index build. Prints tables and rewrites its section of BENCHMARKS.md.
 */
import pg from 'pg';
import { copyInto, HashProvider, HNSW_BUILD, listVectorSegments, migrate } from '@kameleondb/core';
import { ingestRecord, ndjsonOf, SUBJECTS, subjectWord } from './ingestRecord.js';
import { dbUrl, deleteRedisKeys, dropDatabase, freshDatabase, getJson, machine, now, percentile, REDIS, startStack, stop, waitCompacted, writeSection } from './harness.js';

const sizes = process.argv.slice(2).map(Number).filter(Boolean);
if (sizes.length === 0) sizes.push(30_000, 100_000);
const LIVE = Number(process.env.KDB_BENCH_LIVE ?? 30_000);

const queryText = (i: number) => {
  const { title, body } = ingestRecord(i);
  return `${title} ${body}`;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(url: string, from: number, n: number): Promise<number> {
  const body = ndjsonOf(from, n);
  const t = performance.now();
  const res = await fetch(`${url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  return (performance.now() - t) / 1000;
}

async function waitReady(c: pg.Client, total: number): Promise<void> {
  for (;;) {
    const { rows } = await c.query(`SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready, count(*) FILTER (WHERE status <> 'ready')::int AS other FROM kdb_search`);
    if (rows[0].other === 0 && rows[0].ready === total) return;
    await sleep(25);
  }
}

async function segments(c: pg.Client): Promise<string> {
  const list = await listVectorSegments(c, 1);
  return list.map((s) => `${s.rows} (built in ${(s.buildMs / 1000).toFixed(1)} s)`).join(' + ') || 'none';
}

interface Hit {
  id: string;
  score: number;
  data: { title: string };
}
async function search(url: string, mode: string, q: string, limit = 10): Promise<Hit[]> {
  return (await getJson<{ results: Hit[] }>(`${url}/v1/search?mode=${mode}&cache=false&entity=bench&limit=${limit}&q=${encodeURIComponent(q)}`)).results;
}

/** Sampled records of [from, to) found by their own text (vector, top 10) and by their number (keyword, top 10). */
async function searchable(url: string, from: number, to: number, samples = 200): Promise<{ vector: number; keyword: number; samples: number }> {
  let vector = 0;
  let keyword = 0;
  for (let s = 0; s < samples; s++) {
    const i = from + Math.floor(((s + 0.5) / samples) * (to - from));
    const title = `Record ${i}`;
    if ((await search(url, 'vector', queryText(i))).some((h) => h.data.title === title)) vector++;
    if ((await search(url, 'keyword', `record ${i} detail ${i}`)).some((h) => h.data.title === title)) keyword++;
  }
  return { vector, keyword, samples };
}

/** Vector retriever through the API against an exact scan; an answer tied with the 10th exact distance counts. */
async function recallAt10(url: string, c: pg.Client, total: number, queries = 100): Promise<number> {
  const provider = new HashProvider();
  let hits = 0;
  await c.query('BEGIN');
  await c.query('SET LOCAL enable_indexscan = off');
  await c.query('SET LOCAL enable_bitmapscan = off');
  for (let q = 0; q < queries; q++) {
    const i = Math.floor(((q + 0.37) / queries) * total);
    const subject = (i * 7) % SUBJECTS;
    const text = [3, 11, 17].map((k) => subjectWord(subject, (k * (q + 1)) % 20)).join(' ');
    const v = `[${Array.from(provider.embedOne(text)).join(',')}]`;
    const exact = await c.query<{ d: number }>('SELECT embedding <=> $1::vector AS d FROM kdb_vectors_1 WHERE embedding IS NOT NULL ORDER BY 1 LIMIT 10', [v]);
    const d10 = exact.rows[exact.rows.length - 1]!.d;
    const got = await search(url, 'vector', text);
    hits += got.filter((h) => 1 - h.score <= d10 + 1e-6).length;
  }
  await c.query('ROLLBACK');
  return hits / (queries * 10);
}

/** Hybrid searches at concurrency 1 until `until` resolves (or for `ms`); each latency with its start time in `starts`. */
async function searchLoad(url: string, stopAt: Promise<unknown> | number, starts: number[] = []): Promise<number[]> {
  const lat: number[] = [];
  let done = false;
  if (typeof stopAt === 'number') setTimeout(() => (done = true), stopAt);
  else void stopAt.then(() => (done = true));
  for (let q = 0; !done; q++) {
    const t = performance.now();
    await search(url, 'hybrid', `${subjectWord((q * 13) % SUBJECTS, q % 20)} detail ${(q * 7919) % 100_000}`);
    lat.push(performance.now() - t);
    starts.push(t);
  }
  return lat;
}

interface EmptyRow {
  n: number;
  ingestS: number;
  readyS: number;
  compactS: number;
  segments: string;
  found: { vector: number; keyword: number; samples: number };
  redisKeys: number;
  redisBytes: number;
}
interface LiveRow {
  base: number;
  n: number;
  ingestS: number;
  readyS: number;
  compactS: number;
  segmentsDuring: string;
  segments: string;
  idleP95: number;
  loadP95: number;
  beforeP95: number;
  afterP95: number;
  searches: number;
  found: { vector: number; keyword: number; samples: number };
  recall: number;
}

async function pipelineRuns(): Promise<{ empty: EmptyRow[]; live: LiveRow | null }> {
  const empty: EmptyRow[] = [];
  let live: LiveRow | null = null;
  for (const n of sizes) {
    process.stderr.write(`empty system, ${n} records…\n`);
    const db = `kdb_bench_${n}_${process.pid}`;
    await freshDatabase(db);
    const prefix = `{kdbbench-${process.pid}-${n}}`;
    const env = { KDB_DATABASE_URL: dbUrl(db), KDB_REDIS_URL: REDIS, KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled', KDB_LOG_LEVEL: 'info' };
    const stack = await startStack(env, 2);
    await fetch(`${stack.url}/v1/entities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }),
    });
    const c = new pg.Client({ connectionString: dbUrl(db) });
    await c.connect();
    const t0 = performance.now();
    const wall0 = Date.now();
    const ingestS = await post(stack.url, 0, n);
    await waitReady(c, n);
    const readyS = (performance.now() - t0) / 1000;
    const found = await searchable(stack.url, 0, n);
    const compactS = ((await waitCompacted(c)) - wall0) / 1000;
    empty.push({ n, ingestS, readyS, compactS, segments: await segments(c), found, redisKeys: 0, redisBytes: 0 });
    process.stderr.write(`${JSON.stringify(empty[empty.length - 1])}\n`);

    if (n === Math.max(...sizes) && LIVE > 0) {
      process.stderr.write(`live: ${LIVE} more into ${n} indexed records, searching meanwhile…\n`);
      const idle = await searchLoad(stack.url, 15_000);
      const t1 = performance.now();
      const wall1 = Date.now();
      let segmentsDuring = '';
      let answered = Infinity;
      const loaded = (async () => {
        const s = await post(stack.url, n, LIVE);
        answered = performance.now();
        await waitReady(c, n + LIVE);
        segmentsDuring = await segments(c);
        return s;
      })();
      const starts: number[] = [];
      const during = await searchLoad(stack.url, loaded, starts);
      const ingest = await loaded;
      const readyLive = (performance.now() - t1) / 1000;
      const foundLive = await searchable(stack.url, n, n + LIVE);
      const recall = await recallAt10(stack.url, c, n + LIVE);
      const compacted = await waitCompacted(c);
      live = {
        base: n,
        n: LIVE,
        ingestS: ingest,
        readyS: readyLive,
        compactS: (compacted - wall1) / 1000,
        segmentsDuring,
        segments: await segments(c),
        idleP95: percentile(idle, 95),
        loadP95: percentile(during, 95),
        // Searches sent while the API's ingest transaction ran, and after its 202 (workers embedding).
        beforeP95: percentile(during.filter((_, i) => starts[i]! < answered), 95),
        afterP95: percentile(during.filter((_, i) => starts[i]! >= answered), 95),
        searches: during.length,
        found: foundLive,
        recall,
      };
      process.stderr.write(`${JSON.stringify(live)}\n`);
    }
    await c.end();
    await stop([...stack.workers, stack.api]);
    const left = await deleteRedisKeys(prefix);
    empty[empty.length - 1]!.redisKeys = left.keys;
    empty[empty.length - 1]!.redisBytes = left.bytes;
    if (process.env.KDB_BENCH_KEEP) process.stderr.write(`kept database ${dbUrl(db)}\n`);
    else await dropDatabase(db);
  }
  return { empty, live };
}

async function rawBaselines(n: number): Promise<{ copyIndexedS: number; copyS: number; buildS: number }> {
  const db = `kdb_bench_raw_${process.pid}`;
  await freshDatabase(db);
  await migrate({ connectionString: dbUrl(db), space: { provider: 'hash', model: 'feature-hash-v1', dimensions: 384 } });
  const provider = new HashProvider();
  const rows = Array.from({ length: n }, (_, i) => {
    const r = ingestRecord(i);
    const content = `title: ${r.title} | body: ${r.body}`;
    return [content, provider.embedOne(content)] as const;
  });
  const c = new pg.Client({ connectionString: dbUrl(db) });
  await c.connect();
  await c.query(`SET maintenance_work_mem = '1GB'`);
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
  return { copyIndexedS, copyS, buildS };
}

const { empty, live } = await pipelineRuns();
const raw = new Map<number, Awaited<ReturnType<typeof rawBaselines>>>();
for (const n of new Set([...sizes, ...(live ? [LIVE] : [])])) {
  process.stderr.write(`raw baselines ${n}…\n`);
  raw.set(n, await rawBaselines(n));
}

const f = (x: number) => x.toFixed(2);
const rawCells = (n: number) => {
  const r = raw.get(n)!;
  return `${f(r.copyIndexedS)} | ${f(r.copyS)} + ${f(r.buildS)} = ${f(r.copyS + r.buildS)}`;
};
const lines = [
  '## Ingest (`pnpm bench:ingest`)',
  '',
  `Run ${now()} on ${await machine()}.`,
  'One NDJSON request to the API (202 once the records are committed and their jobs enqueued), hash provider, 2 worker processes. "Searchable" = every row `ready`: its vector is then found by search at once (exact scan of the hot segment) and its keywords were indexed in the ingest transaction; checked on 200 sampled records (own text → vector top 10; own number → keyword top 10). "Compacted" = every vector in an HNSW segment and the merges done (workers build them in the background: seal at 10,000 rows, merge factor 4).',
  `Raw baselines, same rows, vectors precomputed, binary COPY in 10k-row chunks: into a table that already has its HNSW index (how vectors entered the index before segments), and into an unindexed table followed by \`CREATE INDEX\` (maintenance_work_mem 1GB, the pgvector defaults m=16, ef_construction=64; the segments use m=${HNSW_BUILD.m}, ef_construction=${HNSW_BUILD.efConstruction}, built off the ingest path: compare the "segments" column's build time with the raw build). Records: 6 of the 20 words of one of 1,000 subjects, 6 words of a 5,000-word vocabulary and their own number; recall queries are three words of a subject.`,
  '',
  '### Empty system',
  '',
  '| records | API 202 after (s) | all searchable after (s) | records/s | found: vector / keyword (of 200) | compacted after (s) | segments (rows) | Redis keys / KB left | raw COPY into indexed table (s) | raw COPY + build (s) |',
  '|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|',
  ...empty.map(
    (r) =>
      `| ${r.n} | ${f(r.ingestS)} | **${f(r.readyS)}** | ${Math.round(r.n / r.readyS)} | ${r.found.vector} / ${r.found.keyword} | ${f(r.compactS)} | ${r.segments} | ${r.redisKeys} / ${Math.round(r.redisBytes / 1024)} | ${rawCells(r.n)} |`,
  ),
];
if (live) {
  lines.push(
    '',
    `### Live system: ${live.n} records into an entity holding ${live.base} indexed ones`,
    '',
    'A search client sends hybrid queries one at a time through the API for 15 s before (idle) and during the whole load.',
    '',
    '| records | API 202 after (s) | all searchable after (s) | found: vector / keyword (of 200) | hybrid p95 idle (ms) | hybrid p95 during load (ms) | of which: until the 202 / after it (ms) | searches during load | vector recall@10 vs exact after load | segments when searchable | compacted after (s) | raw COPY of the same rows into the indexed table (s) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|',
    `| ${live.n} | ${f(live.ingestS)} | **${f(live.readyS)}** | ${live.found.vector} / ${live.found.keyword} | ${f(live.idleP95)} | ${f(live.loadP95)} | ${f(live.beforeP95)} / ${f(live.afterP95)} | ${live.searches} | ${live.recall.toFixed(3)} | ${live.segmentsDuring} + hot | ${f(live.compactS)} (${live.segments}) | ${f(raw.get(live.n)!.copyIndexedS)} |`,
  );
}
await writeSection('ingest', lines);
process.exit(0);
