/**
 * `pnpm bench:scale [--sizes 10000,100000,1000000]`: the cost curves of the
 * pipeline against N. Per size, on an empty database and a Redis of its own
 * (a private redis-server, so its memory figures are ours alone): records
 * of 20–300 words from a Zipfian vocabulary with topic neighbourhoods
 * (scripts/bench/zipfCorpus.ts), streamed through the CLI into the API (one
 * NDJSON request, hash provider, 2 worker processes), then
 *
 * - time until every record is searchable (and until compacted);
 * - Postgres bytes per record: table, postings, vectors, indexes;
 * - Redis peak memory; API and worker peak RSS during and after the ingest;
 * - search p50/p95 per mode (cache=false) for rare, common, multi-term and
 *   topic queries, in turns with the retrievers' raw SQL;
 * - the API's keyword top 10 against the full BM25 sum on 200 queries;
 * - vector recall@10 against an exact scan, and the HNSW scans per search;
 * - a forced reindex of the unchanged rows (time; provider calls);
 * - the raw baseline: binary COPY of the same vectors into a plain pgvector
 *   table plus its HNSW build with the segments' settings.
 *
 * The bench process holds no per-record state (records are generated as they
 * are sent), so 1,000,000 runs in the same memory as 10,000; the section and
 * plot are rewritten after each size, so a stopped run keeps its smaller
 * sizes. Only public surfaces: the CLI and HTTP API, and SQL for sizes and
 * the raw baselines.
 */
import { execFile } from 'node:child_process';
import { readFile, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { DEFAULT_EF_SEARCH, DEFAULTS, HNSW_BUILD, hnswRowsInMemory } from '@kameleondb/core';
import { startPrivateRedis, type PrivateRedis } from '../../test-support/privateRedis.js';
import { dropDatabase, freshDatabase, getJson, machine, now, percentile, PG, ROOT, startStack, stop, waitCompacted, writeSection } from './harness.js';
import { ingestWithCli } from './scale/ingestWithCli.js';
import { postgresBytes, type PostgresBytes } from './scale/postgresBytes.js';
import { processMemory } from './scale/processMemory.js';
import { rawCopyBuild, type RawCopyBuild } from './scale/rawCopyBuild.js';
import { rawStatements } from './scale/rawStatements.js';
import { svgPlot } from './scale/svgPlot.js';
import { KIND_COMMON, KIND_MULTI, KIND_RARE, keywordQueries, PER_TOPIC, sameTopK, topicQueries, topicsOf, zipfCorpus } from './zipfCorpus.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    /** Queries of each kind per turn; 3 turns. */
    queries: { type: 'string', default: '40' },
    /** Longest wait for all records searchable, per size, in minutes. */
    'timeout-min': { type: 'string', default: '240' },
    /**
     * Re-renders the section and plot from the results file of an earlier run, measuring nothing;
     * comma-separated files are merged by size (a later file's size replaces an earlier one's).
     */
    render: { type: 'string' },
    /**
     * Records per ingest request (one CLI run each, one after the other); default the whole size in one.
     * The CLI sets no time limit on a streamed insert (the client lifts undici's 300 s headersTimeout),
     * so this only splits the one transaction the API holds per request.
     */
    'request-records': { type: 'string' },
    /**
     * The API's and workers' V8 old-space cap in MB; default docker-compose.yml's 512. A cap well
     * below it shows the memory bound holds at every N: a process whose live set grew with N would die.
     */
    'heap-mb': { type: 'string', default: '512' },
  },
});
const sizes = args.sizes.split(',').map(Number);
for (const n of sizes) if (!Number.isInteger(n) || n < 1000 || n > 10_000_000) throw new Error(`--sizes must be integers from 1000 to 10000000, comma-separated; got ${args.sizes}`);
const PER_TURN = Number(args.queries);
if (!Number.isInteger(PER_TURN) || PER_TURN < 5 || PER_TURN > 1000) throw new Error(`--queries must be an integer from 5 to 1000; got ${args.queries}`);
const REQUEST_RECORDS = args['request-records'] === undefined ? Infinity : Number(args['request-records']);
if (!(REQUEST_RECORDS === Infinity || (Number.isInteger(REQUEST_RECORDS) && REQUEST_RECORDS >= 1000))) throw new Error(`--request-records must be an integer of at least 1000; got ${args['request-records']}`);
const TIMEOUT_MS = Number(args['timeout-min']) * 60_000;
if (!(TIMEOUT_MS > 0)) throw new Error(`--timeout-min must be a positive number; got ${args['timeout-min']}`);
const TURNS = 3;
const HEAP_MB = Number(args['heap-mb']);
if (!Number.isInteger(HEAP_MB) || HEAP_MB < 64 || HEAP_MB > 16384) throw new Error(`--heap-mb must be an integer from 64 to 16384; got ${args['heap-mb']}`);
const NODE_HEAP = `--max-old-space-size=${HEAP_MB}`;
const ENTITY = 'scale';
const DIMENSIONS = 384;
/**
 * Share of a record's words drawn from its topic. At 0.15 the hash
 * provider's vectors had no neighbourhoods to speak of: every word weighs
 * alike, so the commonest Zipf words made every record near every other
 * (same-topic distance 0.461 against 0.516 between topics, and one plain
 * HNSW index over the same vectors found 0.738 of the top 10 at ef_search
 * 40, as the segments did); at 0.3, 0.448 against 0.667, as an embedding
 * model's neighbourhoods stand out from the rest.
 */
const TOPIC_SHARE = 0.3;
/** ef_search settings tried, from the default up, until recall@10 reaches RECALL_TARGET. */
const EF_STEPS = [DEFAULT_EF_SEARCH, 64, 100, 160, 250, 400, 640, 1000];
const RECALL_TARGET = 0.95;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

const MODES = ['keyword', 'vector', 'hybrid'] as const;
const KIND_TOPIC = 'topic (3 words of a topic)';
const KINDS = [KIND_RARE, KIND_COMMON, KIND_MULTI, KIND_TOPIC] as const;
const KIND_SHORT: Record<string, string> = { [KIND_RARE]: 'rare', [KIND_COMMON]: 'common', [KIND_MULTI]: 'multi-term', [KIND_TOPIC]: 'topic' };
const PATHS = ['API keyword', 'API vector', 'API hybrid', 'raw keyword', 'raw vector', 'raw hybrid', 'raw full sum'] as const;
type Path = (typeof PATHS)[number];

interface Memory {
  /** VmHWM once all were searchable: the peak of the ingest. */
  ingestPeak: number;
  /** VmRSS after compaction, VACUUM and CHECKPOINT. */
  after: number;
  /** VmHWM at the end of the size (searches and the reindex too). */
  endPeak: number;
}
interface SizeResult {
  n: number;
  /** Records per ingest request; absent: one request. */
  requestRecords?: number;
  /** The processes' old-space cap in MB; absent in runs before it was an option: 512. */
  heapMb?: number;
  topics: number;
  load: string;
  acceptedS: number;
  searchableS: number;
  compactedS: number;
  raw: RawCopyBuild;
  bytes: PostgresBytes;
  postings: number;
  redis: { peakAfterIngest: number; peak: number; used: number };
  api: Memory;
  worker: Memory;
  /** Latencies (ms) per path and query kind. */
  lat: Record<Path, Record<string, number[]>>;
  /** The first path rotated from query to query (absent: each path ran a turn's queries in a row, API paths first). */
  rotated?: boolean;
  checked: number;
  equal: number;
  /** Recall@10 of the raw statement at DEFAULT_EF_SEARCH. */
  recall: number;
  /** Recall@10 through the API at its default ef_search (auto), and the ef_search it chose; absent in runs before auto. */
  apiRecall?: { ef: number; recall: number };
  /** Recall@10 per ef_search tried, up to the first that reached RECALL_TARGET. */
  recallSteps?: { ef: number; recall: number }[];
  /** The raw vector statement at the first setting that reached RECALL_TARGET (null: none did). */
  atTarget?: { ef: number; recall: number; p50: number; p95: number } | null;
  hnswScans: number;
  segments: number;
  reindex: { s: number; processed: number; embedded: number; cached: number; state: string };
  endLoad: string;
}

/** The next `count` values of `it`, leaving it open for the next request (a for-of would close it). */
function* take<T>(it: Iterator<T>, count: number): Generator<T> {
  for (let i = 0; i < count; i++) {
    const next = it.next();
    if (next.done) return;
    yield next.value;
  }
}

async function entityStatus(url: string): Promise<{ total: number; indexed: number; pending: number; failed: number }> {
  return (await getJson<{ embedding: { total: number; indexed: number; pending: number; failed: number } }>(`${url}/v1/entities/${ENTITY}`)).embedding;
}

async function api<T = { results: { id: string; score: number }[] }>(url: string, mode: string, q: string, extra = ''): Promise<T> {
  return getJson<T>(`${url}/v1/search?mode=${mode}&entity=${ENTITY}&limit=10&cache=false&q=${encodeURIComponent(q)}${extra}`);
}

async function redisInfo(url: string): Promise<{ peak: number; used: number }> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    const info = await r.info('memory');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    return { peak: field('used_memory_peak'), used: field('used_memory') };
  } finally {
    r.disconnect();
  }
}

/**
 * maintenance_work_mem of the raw baseline's one HNSW build: the segments'
 * setting, raised to what holds all `n` graph rows in memory, as pgvector's
 * docs tell a raw user to (a spilled build takes many times longer, which
 * would flatter the pipeline, whose segments stay within the setting).
 */
function rawBuildMemory(n: number): string {
  const segment = DEFAULTS.segmentBuildMemory;
  if (hnswRowsInMemory(segment, DIMENSIONS, HNSW_BUILD.m) >= n) return segment;
  const perMb = hnswRowsInMemory('1MB', DIMENSIONS, HNSW_BUILD.m) || 1;
  return `${Math.ceil(n / perMb)}MB`;
}

/** Postgres bytes per record assumed before a size has been measured (2,000 records: ~37 KB, indexes the most). */
const BYTES_PER_RECORD_GUESS = 40_000;

/** Fails before loading when the Postgres data directory's disk cannot hold `n` records (twice, for WAL and the raw table). */
async function checkDisk(n: number, bytesPerRecord: number): Promise<void> {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  const dir = (await c.query<{ d: string }>('SHOW data_directory')).rows[0]!.d;
  await c.end();
  const fs = await statfs(dir).catch(() => null);
  if (!fs) return; // another host's server: its disk is not ours to see
  const need = 2 * n * bytesPerRecord;
  if (fs.bavail * fs.bsize < need) throw new Error(`${n} records need ~${(need / 1e9).toFixed(0)} GB free for PostgreSQL (${dir}), ${((fs.bavail * fs.bsize) / 1e9).toFixed(0)} GB are: not starting`);
}

async function measure(n: number, slot: number, bytesPerRecord: number): Promise<SizeResult> {
  await checkDisk(n, bytesPerRecord);
  const dbName = `kdb_bench_scale_${process.pid}_${n}`;
  const url = await freshDatabase(dbName);
  let redis: PrivateRedis | undefined;
  let children: Parameters<typeof stop>[0] = [];
  const db = new pg.Client({ connectionString: url });
  try {
    redis = await startPrivateRedis(slot);
    log(`${n}: database ${dbName}, private redis-server on port ${redis.port}`);
    const env = {
      KDB_DATABASE_URL: url,
      KDB_REDIS_URL: redis.url,
      KDB_QUEUE_PREFIX: `{kdbbench-scale-${process.pid}}`,
      KDB_AUTH: 'disabled',
      // Records of up to 300 words: a million is about 1 GB of NDJSON, above the default limit.
      KDB_MAX_BODY: '8gb',
      KDB_MAX_RECORDS_PER_REQUEST: String(Math.max(n, 1_000_000)),
      KDB_WAIT_TIMEOUT_MS: String(TIMEOUT_MS),
      // As docker-compose.yml runs them (at its cap unless --heap-mb): with a fixed old space V8 collects instead
      // of growing the heap to a multiple of the live set, so the peak RSS shows what a process holds, not how lazily it collects.
      NODE_OPTIONS: NODE_HEAP,
    };
    const stack = await startStack(env, 2, 180_000);
    children = [stack.api, ...stack.workers];
    const apiPid = stack.api.proc.pid!;
    const workerPids = stack.workers.map((w) => w.proc.pid!);
    await db.connect();
    const res = await fetch(`${stack.url}/v1/entities`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: ENTITY, fields: { body: 'text', team: 'text' }, embedFields: ['body'] }) });
    if (res.status !== 201) throw new Error(`creating the entity answered ${res.status}: ${await res.text()}`);

    const topics = topicsOf(n);
    const loadAtStart = load();
    log(`${n}: streaming ${n} records (${topics} topics) through the CLI…`);
    const t0 = performance.now();
    const records = zipfCorpus(n, { topics, topicShare: TOPIC_SHARE });
    let count = 0;
    for (let from = 0; from < n; from += Math.min(REQUEST_RECORDS, n)) {
      const size = Math.min(REQUEST_RECORDS, n - from);
      count += (await ingestWithCli(stack.url, ENTITY, take(records, size))).count;
      if (size < n) log(`${n}: ${from + size} records accepted`);
    }
    if (count !== n) throw new Error(`the API accepted ${count} records, ${n} were sent`);
    const acceptedS = (performance.now() - t0) / 1000;
    log(`${n}: 202 after ${acceptedS.toFixed(1)} s; waiting until all are searchable…`);
    for (let last = 0; ; ) {
      const s = await entityStatus(stack.url);
      if (s.failed > 0) throw new Error(`${s.failed} records failed to embed at ${n}`);
      if (s.indexed === n) break;
      if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`not all searchable after ${args['timeout-min']} min at ${n}: ${JSON.stringify(s)}`);
      if (performance.now() - last > 30_000) {
        last = performance.now();
        log(`${n}: ${s.indexed} of ${n} searchable`);
      }
      await sleep(100);
    }
    const searchableS = (performance.now() - t0) / 1000;
    const apiIngest = processMemory(apiPid).peak;
    const workerIngest = Math.max(...workerPids.map((p) => processMemory(p).peak));
    log(`${n}: searchable after ${searchableS.toFixed(1)} s; waiting for compaction…`);
    const compactedAt = await waitCompacted(db);
    const compactedS = (compactedAt - (performance.timeOrigin + t0)) / 1000;
    const redisAfterIngest = await redisInfo(redis.url);
    await db.query('VACUUM ANALYZE');
    // As pgbench does before a run: the load's dirty pages written now, not during the searches.
    await db.query('CHECKPOINT');
    const apiAfter = processMemory(apiPid).rss;
    const workerAfter = Math.max(...workerPids.map((p) => processMemory(p).rss));
    const bytes = await postgresBytes(db);
    const postings = Number((await db.query("SELECT (SELECT count(*) FROM kdb_postings) + (SELECT coalesce(sum(n), 0) FROM kdb_postings_blocks) AS c")).rows[0].c);

    log(`${n}: raw baseline: binary COPY of the same vectors + HNSW build…`);
    const raw = await rawCopyBuild(url, { vectorTable: 'kdb_vectors_1', dimensions: DIMENSIONS, m: HNSW_BUILD.m, efConstruction: HNSW_BUILD.efConstruction, buildMemory: rawBuildMemory(n), expectedBytes: n * (DIMENSIONS * 4 + 32) });
    if (raw.rows !== n) throw new Error(`the raw baseline loaded ${raw.rows} vectors, ${n} expected`);
    await db.query('CHECKPOINT');

    // Searches: every path on the same queries, kind by kind, in TURNS turns of PER_TURN queries each.
    const rs = await rawStatements(url, ENTITY);
    const zipf = keywordQueries(PER_TURN * TURNS, { filtered: false });
    const byKind: Record<string, string[]> = { [KIND_TOPIC]: topicQueries(PER_TURN * TURNS, topics) };
    for (const q of zipf) (byKind[q.kind] ??= []).push(q.q);
    const run: Record<Path, (q: string) => Promise<unknown>> = {
      'API keyword': (q) => api(stack.url, 'keyword', q),
      'API vector': (q) => api(stack.url, 'vector', q),
      'API hybrid': (q) => api(stack.url, 'hybrid', q),
      'raw keyword': rs.keyword,
      'raw vector': rs.vector,
      'raw hybrid': rs.hybrid,
      'raw full sum': (q) => rs.fullSum(q),
    };
    log(`${n}: warm-up…`);
    for (const kind of KINDS) for (const q of byKind[kind]!) await rs.stats(q); // the reference's statistics, read once
    for (const path of PATHS) for (const kind of KINDS) for (const q of byKind[kind]!.slice(0, 5)) await run[path](q);
    const lat = Object.fromEntries(PATHS.map((p) => [p, Object.fromEntries(KINDS.map((k) => [k, [] as number[]]))])) as SizeResult['lat'];
    for (let turn = 0; turn < TURNS; turn++) {
      log(`${n}: searches, turn ${turn + 1} of ${TURNS} (load ${load()})…`);
      for (const kind of KINDS) {
        const qs = byKind[kind]!.slice(turn * PER_TURN, (turn + 1) * PER_TURN);
        // Every path on each query, the first path rotating from query to query: the first to
        // ask for a query's pages reads them from disk where the data outgrows memory (1M).
        for (const [i, q] of qs.entries()) {
          for (let j = 0; j < PATHS.length; j++) {
            const path = PATHS[(i + j) % PATHS.length]!;
            const t = performance.now();
            await run[path](q);
            lat[path][kind]!.push(performance.now() - t);
          }
        }
      }
    }

    log(`${n}: keyword top 10 through the API against the full sum, 200 queries…`);
    let checked = 0;
    let equal = 0;
    for (const q of keywordQueries(50)) {
      const where = q.where ? `&where=${encodeURIComponent(JSON.stringify(q.where))}` : '';
      const got = (await api(stack.url, 'keyword', q.q, where)).results.map((r) => ({ id: r.id, score: r.score }));
      const want = await rs.fullSum(q.q, 60, q.where);
      checked++;
      if (sameTopK(got, want, 10)) equal++;
      else log(`MISMATCH at ${n}: ${JSON.stringify(q)}: ${JSON.stringify(got.slice(0, 3))} against ${JSON.stringify(want.slice(0, 3))}`);
    }

    log(`${n}: recall and HNSW scans…`);
    const recallQueries = byKind[KIND_TOPIC]!.slice(0, 50);
    const kths: number[] = [];
    for (const q of recallQueries) kths.push((await rs.exactDistances(q)).at(-1)!);
    const recallSteps: { ef: number; recall: number }[] = [];
    let atTarget: SizeResult['atTarget'] = null;
    for (const ef of EF_STEPS) {
      let hits = 0;
      for (let i = 0; i < recallQueries.length; i++) hits += (await rs.vectorDistancesAt(recallQueries[i]!, ef)).filter((d) => d <= kths[i]! + 1e-9).length;
      const recall = hits / (recallQueries.length * 10);
      recallSteps.push({ ef, recall });
      log(`${n}: ef_search ${ef}: recall@10 ${recall.toFixed(3)}`);
      if (recall < RECALL_TARGET) continue;
      const times: number[] = [];
      for (let pass = 0; pass < 3; pass++) {
        for (const q of recallQueries) {
          const t = performance.now();
          await rs.vectorDistancesAt(q, ef);
          if (pass > 0) times.push(performance.now() - t);
        }
      }
      atTarget = { ef, recall, p50: percentile(times, 50), p95: percentile(times, 95) };
      break;
    }
    const hits = recallSteps[0]!.recall * recallQueries.length * 10;
    const total = recallQueries.length * 10;
    const explained = await api<{ explain: { efSearch: number; vectorSegments?: { sealed: unknown[] }; plans: { vector?: string } } }>(stack.url, 'vector', byKind[KIND_TOPIC]![0]!, '&explain=true');
    // What a user gets: the API at its default ef_search (auto: efSearchFor the largest segment).
    let apiHits = 0;
    for (let i = 0; i < recallQueries.length; i++) apiHits += (await api(stack.url, 'vector', recallQueries[i]!)).results.filter((r) => 1 - r.score <= kths[i]! + 1e-6).length;
    const apiRecall = { ef: explained.explain.efSearch, recall: apiHits / total };
    log(`${n}: API (ef_search ${apiRecall.ef}): recall@10 ${apiRecall.recall.toFixed(3)}`);
    const hnswScans = (explained.explain.plans.vector?.match(/Index Scan using kdb_vseg_\S+/g) ?? []).length;
    log(`${n}: vector plan: ${explained.explain.plans.vector?.replace(/\s+/g, ' ').slice(0, 600)}`);
    const segments = explained.explain.vectorSegments?.sealed.length ?? 0;
    await rs.close();

    log(`${n}: forced reindex of the unchanged rows…`);
    const tr = performance.now();
    const started = await fetch(`${stack.url}/v1/reindex`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ entity: ENTITY, force: true }) });
    if (started.status !== 202) throw new Error(`POST /v1/reindex answered ${started.status}: ${await started.text()}`);
    const { id } = (await started.json()) as { id: string };
    let runState: { state: string; processed: number; embedded: number; cached: number };
    for (;;) {
      runState = await getJson(`${stack.url}/v1/reindex/${id}`);
      if (['completed', 'cancelled', 'failed'].includes(runState.state)) break;
      if (performance.now() - tr > TIMEOUT_MS) throw new Error(`reindex ${id} not finished after ${args['timeout-min']} min: ${JSON.stringify(runState)}`);
      await sleep(100);
    }
    const reindex = { s: (performance.now() - tr) / 1000, processed: runState.processed, embedded: runState.embedded, cached: runState.cached, state: runState.state };

    const endRedis = await redisInfo(redis.url);
    const result: SizeResult = {
      n,
      ...(REQUEST_RECORDS < n ? { requestRecords: REQUEST_RECORDS } : {}),
      heapMb: HEAP_MB,
      topics,
      load: loadAtStart,
      acceptedS,
      searchableS,
      compactedS,
      raw,
      bytes,
      postings,
      redis: { peakAfterIngest: redisAfterIngest.peak, peak: endRedis.peak, used: endRedis.used },
      api: { ingestPeak: apiIngest, after: apiAfter, endPeak: processMemory(apiPid).peak },
      worker: { ingestPeak: workerIngest, after: workerAfter, endPeak: Math.max(...workerPids.map((p) => processMemory(p).peak)) },
      lat,
      rotated: true,
      checked,
      equal,
      recall: hits / total,
      apiRecall,
      recallSteps,
      atTarget,
      hnswScans,
      segments,
      reindex,
      endLoad: load(),
    };
    log(`${n}: done (load ${result.endLoad})`);
    return result;
  } catch (err) {
    // What the processes said last is usually why.
    for (const c of children) if (c) log(`output of pid ${c.proc.pid}, last 3000 characters:\n${c.output().slice(-3000)}`);
    throw err;
  } finally {
    await db.end().catch(() => undefined);
    await stop(children);
    await redis?.close();
    if (!process.env.KDB_BENCH_KEEP) await dropDatabase(dbName);
  }
}

const MB = (b: number) => (b / 2 ** 20).toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const p = (xs: number[], q: number) => percentile(xs, q);
const allKinds = (r: SizeResult, path: Path, kinds: readonly string[] = KINDS) => kinds.flatMap((k) => r.lat[path][k]!);
const SVG = 'bench-scale.svg';

const heapLine = (results: SizeResult[]) => {
  const caps = [...new Set(results.map((r) => r.heapMb ?? 512))];
  const flag = (mb: number) => `\`--max-old-space-size=${mb}\`${mb === 512 ? " (docker-compose.yml's)" : ''}`;
  return caps.length === 1 ? flag(caps[0]!) : results.map((r) => `${r.n}: ${flag(r.heapMb ?? 512)}`).join(', ');
};
const requestsLine = (results: SizeResult[]) =>
  results.map((r) => (r.requestRecords && r.requestRecords < r.n ? `${r.n}: ${Math.ceil(r.n / r.requestRecords)} requests of ${r.requestRecords}, one after the other` : `${r.n}: one request`)).join('; ');

function section(results: SizeResult[], startedAt: string, machineLine: string, asked: readonly number[]): string[] {
  const sized = results.map((r) => r.n.toLocaleString('en')).join(', ');
  // From the figures, not --queries: a --render of another run's file renders that run's count.
  const perTurn = (results[0]?.lat['API keyword'][KIND_RARE]?.length ?? 0) / TURNS;
  const lines = [
    '## Scale: cost curves against N (`pnpm bench:scale`)',
    '',
    `Run ${startedAt} on ${machineLine}; sizes run: ${sized}${asked.length > results.length ? ` (of ${asked.join(', ')} asked)` : ''}. Load average (1, 5, 15 min) at the start of each size's ingest: ${results.map((r) => `${r.n}: ${r.load}`).join('; ')}; at its end: ${results.map((r) => `${r.n}: ${r.endLoad}`).join('; ')}.`,
    `Corpus (scripts/bench/zipfCorpus.ts): per record 20–300 words (uniform); each word with probability ${TOPIC_SHARE} one of the 20 words of the record's topic (N/${PER_TOPIC} topics, so a neighbourhood stays ${PER_TOPIC} records at every N), else a word of a Zipfian vocabulary (s = 1, 50,000 words); a \`team\` field of 10 values. Streamed through \`kameleondb records insert ${ENTITY} -f -\`: ${requestsLine(results)}, hash provider (384 dims), 2 worker processes, API and workers under ${heapLine(results)}, a fresh database and redis-server per size. "Searchable": every record \`indexed\` (\`GET /v1/entities/${ENTITY}\`); "compacted": every vector in an HNSW segment (m=${HNSW_BUILD.m}, ef_construction=${HNSW_BUILD.efConstruction}) and the merges done. Raw baseline: the same vectors by \`psql \\copy … (FORMAT binary)\` into a plain \`vector(${DIMENSIONS})\` table, then \`CREATE INDEX … USING hnsw\` with the same settings (maintenance_work_mem ${DEFAULTS.segmentBuildMemory}, raised where one graph of all the rows needs more so that it builds in memory: ${results.map((r) => `${r.n}: ${rawBuildMemory(r.n)}`).join(', ')}); vectors only, where "searchable" also includes the keyword index, most of the ingest's time and bytes.`,
    ...(results.some((r) => r.n >= 1_000_000)
      ? []
      : [
          `1,000,000 records: not run in this session (${asked.includes(1_000_000) ? 'asked, not reached' : 'not asked'}). The bench holds no per-record state, checks free disk before each size and fails naming the size and phase; \`pnpm bench:scale --sizes 1000000\` runs it alone.`,
        ]),
    '',
    '### Ingest, storage and memory',
    '',
    '| records | 202 after (s) | all searchable (s) | compacted (s) | raw COPY + HNSW build (s) | searchable ÷ raw | postings | Postgres bytes/record: table / postings / vectors / indexes (of which) | Redis peak (MB): after ingest / end | API RSS (MB): ingest peak / after / end peak | worker RSS (MB, larger of 2): ingest peak / after / end peak |',
    '|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|',
    ...results.map((r) => {
      const b = (x: number) => (x / r.n).toFixed(0);
      return `| ${r.n} | ${f1(r.acceptedS)} | **${f1(r.searchableS)}** | ${f1(r.compactedS)} | ${f2(r.raw.copyS)} + ${f1(r.raw.buildS)} = ${f1(r.raw.copyS + r.raw.buildS)} | **${(r.searchableS / (r.raw.copyS + r.raw.buildS)).toFixed(2)}×** | ${r.postings} | ${b(r.bytes.table)} / ${b(r.bytes.postings)} / ${b(r.bytes.vectors)} / ${b(r.bytes.indexes)} (HNSW ${b(r.bytes.hnsw)}${r.bytes.postingsIndexes === undefined ? '' : `, postings ${b(r.bytes.postingsIndexes)}`}) | ${MB(r.redis.peakAfterIngest)} / ${MB(r.redis.peak)} | ${MB(r.api.ingestPeak)} / ${MB(r.api.after)} / ${MB(r.api.endPeak)} | ${MB(r.worker.ingestPeak)} / ${MB(r.worker.after)} / ${MB(r.worker.endPeak)} |`;
    }),
    '',
    '### Search (concurrency 1, `cache=false`, limit 10; p50 / p95 in ms)',
    '',
    `${perTurn * TURNS} queries per kind: ${TURNS} turns of ${perTurn}, ${results.every((r) => r.rotated) ? `each query run on every path in turn, the first path rotating from query to query, so the machine's drift and the reads from disk (where the data outgrows memory) fall on all alike.` : `each turn running every path over its queries in a row, API paths first: where the data outgrows memory (1M) the API paths paid the reads from disk and the raw ones found the pages cached, so there API ÷ raw is not like for like (later runs rotate the first path).`} Rare: one word of Zipf rank 5,000–20,000; common: rank 1–50 (in nearly every record); multi-term: ranks 1–50, 50–500 and 500–5,000; topic: three words of one topic. "Raw" is the retrievers' SQL straight to Postgres, as bench:search runs it (keyword: the top-k statements; vector: the union over the segments; hybrid: both in parallel, window 40); "raw full sum": BM25 over every posting of the query terms, one statement (the reference).`,
    '',
    `| records | query kind | ${PATHS.join(' | ')} |`,
    `|---:|---|${PATHS.map(() => '---:').join('|')}|`,
    ...results.flatMap((r) => KINDS.map((k) => `| ${r.n} | ${KIND_SHORT[k]} | ${PATHS.map((path) => `${f2(p(r.lat[path][k]!, 50))} / ${f2(p(r.lat[path][k]!, 95))}`).join(' | ')} |`)),
    '',
    '### Exactness, recall, segments, reindex',
    '',
    `| records | keyword top 10 = full sum (API, 200 queries incl. 50 with \`where\`) | vector recall@10 (50 topic queries, tie-aware): API at its default ef_search (auto) / raw at ${DEFAULT_EF_SEARCH} | first ef_search with recall@10 ≥ ${RECALL_TARGET}: recall, raw vector p50 / p95 (ms) | sealed segments / HNSW scans per vector search | forced reindex of unchanged rows: time (s), rows, embedded by the provider, from cache |`,
    '|---:|---:|---:|---|---:|---|',
    ...results.map(
      (r) =>
        `| ${r.n} | ${r.equal} of ${r.checked} | ${r.apiRecall ? `**${r.apiRecall.recall.toFixed(3)}** (ef ${r.apiRecall.ef})` : 'not measured'} / ${r.recall.toFixed(3)} | ${r.atTarget === undefined ? 'not measured' : r.atTarget === null ? `none up to ${EF_STEPS.at(-1)} (${r.recallSteps!.at(-1)!.recall.toFixed(3)})` : `**${r.atTarget.ef}**: ${r.atTarget.recall.toFixed(3)}, ${f2(r.atTarget.p50)} / ${f2(r.atTarget.p95)}`} | ${r.segments} / ${r.hnswScans} | ${f1(r.reindex.s)} s, ${r.reindex.processed} rows, **${r.reindex.embedded} embedded**, ${r.reindex.cached} cached (${r.reindex.state}) |`,
    ),
    '',
    `![figures against N](${SVG})`,
  ];
  const goals: string[] = [];
  for (const r of results) goals.push(`- ${r.n}: searchable ÷ raw COPY + build **${(r.searchableS / (r.raw.copyS + r.raw.buildS)).toFixed(2)}×**${r.n >= 1_000_000 ? ' (goal ≤ 1.1×)' : ''}; keyword top 10 equal to the full sum on ${r.equal} of ${r.checked}; vector recall@10 through the API ${r.apiRecall ? `${r.apiRecall.recall.toFixed(3)} (auto ef_search ${r.apiRecall.ef}; goal ≥ ${RECALL_TARGET})` : 'not measured (raw: table above)'}; forced reindex embedded ${r.reindex.embedded} of ${r.reindex.processed} rows.`);
  for (let i = 1; i < results.length; i++) {
    const [a, b] = [results[i - 1]!, results[i]!];
    const growth = (path: Path, kinds?: readonly string[]) => (p(allKinds(b, path, kinds), 95) / p(allKinds(a, path, kinds), 95)).toFixed(2);
    const perKind = (path: Path) => [KIND_RARE, KIND_COMMON, KIND_MULTI].map((k) => `${KIND_SHORT[k]} ${growth(path, [k])}×`).join(', ');
    goals.push(
      `- ${b.n} ÷ ${a.n} (${(b.n / a.n).toFixed(0)}× the records), p95 over rare, common and multi-term queries: API keyword **${growth('API keyword', [KIND_RARE, KIND_COMMON, KIND_MULTI])}×** (${perKind('API keyword')}), API hybrid **${growth('API hybrid', [KIND_RARE, KIND_COMMON, KIND_MULTI])}×** (${perKind('API hybrid')}); goal at 1M ÷ 100k ≤ 2×. Raw keyword top-k ${growth('raw keyword', [KIND_RARE, KIND_COMMON, KIND_MULTI])}×, raw full sum ${growth('raw full sum', [KIND_RARE, KIND_COMMON, KIND_MULTI])}×.`,
      `- memory ${b.n} ÷ ${a.n}: API ingest peak ${(b.api.ingestPeak / a.api.ingestPeak).toFixed(2)}×, worker ingest peak ${(b.worker.ingestPeak / a.worker.ingestPeak).toFixed(2)}×, Redis peak ${(b.redis.peak / a.redis.peak).toFixed(2)}× (flat in N would be ≈ 1×).`,
    );
  }
  lines.push('', 'Ratios (within a size, measured in one run; between sizes, of the runs named above):', '', ...goals);
  return lines;
}

function plot(results: SizeResult[], startedAt: string): string {
  const xs = results.map((r) => r.n);
  const per = (f: (r: SizeResult) => number) => results.map(f);
  const mb = (b: number) => b / 2 ** 20;
  const zipfKinds = [KIND_RARE, KIND_COMMON, KIND_MULTI];
  return svgPlot(`pnpm bench:scale, run ${startedAt}`, xs, [
    {
      title: 'until searchable',
      unit: 's',
      series: [
        { name: 'ours: all searchable', values: per((r) => r.searchableS) },
        { name: 'ours: compacted', values: per((r) => r.compactedS) },
        { name: 'raw COPY + HNSW build', values: per((r) => r.raw.copyS + r.raw.buildS) },
        { name: 'forced reindex', values: per((r) => r.reindex.s) },
      ],
    },
    {
      title: 'Postgres bytes per record',
      unit: 'bytes',
      series: [
        { name: 'table', values: per((r) => r.bytes.table / r.n) },
        { name: 'postings', values: per((r) => r.bytes.postings / r.n) },
        { name: 'vectors', values: per((r) => r.bytes.vectors / r.n) },
        { name: 'indexes', values: per((r) => r.bytes.indexes / r.n) },
      ],
    },
    {
      title: 'search p95, rare + common + multi-term',
      unit: 'ms',
      series: [
        ...MODES.map((m) => ({ name: `API ${m}`, values: per((r) => p(allKinds(r, `API ${m}`, zipfKinds), 95)) })),
        { name: 'raw hybrid', values: per((r) => p(allKinds(r, 'raw hybrid', zipfKinds), 95)) },
        { name: 'raw full sum', values: per((r) => p(allKinds(r, 'raw full sum', zipfKinds), 95)) },
      ],
    },
    {
      title: 'peak memory',
      unit: 'MB',
      series: [
        { name: 'API VmHWM (ingest)', values: per((r) => mb(r.api.ingestPeak)) },
        { name: 'worker VmHWM (ingest)', values: per((r) => mb(r.worker.ingestPeak)) },
        { name: 'API VmRSS after', values: per((r) => mb(r.api.after)) },
        { name: 'Redis used_memory_peak', values: per((r) => mb(r.redis.peak)) },
      ],
    },
  ]);
}

interface RunFile {
  startedAt: string;
  /** The checkout measured (absent in files of runs before it was kept). */
  commit?: string;
  machineLine: string;
  asked: number[];
  results: SizeResult[];
}
async function render(run: RunFile): Promise<void> {
  await writeFile(`${ROOT}${SVG}`, plot(run.results, run.startedAt));
  await writeSection('scale', section(run.results, run.startedAt, run.machineLine, run.asked));
}

/** Several runs' files as one: each size from the last file holding it; each run's start named with its sizes and commit. */
function mergeRuns(runs: readonly RunFile[]): RunFile {
  if (runs.length === 1) return runs[0]!;
  const bySize = new Map<number, { result: SizeResult; run: RunFile }>();
  for (const run of runs) for (const result of run.results) bySize.set(result.n, { result, run });
  const kept = [...bySize.values()].sort((a, b) => a.result.n - b.result.n);
  const from = runs.filter((run) => kept.some((k) => k.run === run));
  return {
    startedAt: from.map((run) => `${run.startedAt} (${kept.filter((k) => k.run === run).map((k) => k.result.n.toLocaleString('en')).join(', ')}${run.commit ? ` at ${run.commit.slice(0, 7)}` : ''})`).join('; '),
    machineLine: from.at(-1)!.machineLine,
    asked: [...new Set(runs.flatMap((run) => run.asked))].sort((a, b) => a - b),
    results: kept.map((k) => k.result),
  };
}

if (args.render) {
  const files = await Promise.all(args.render.split(',').map(async (f) => JSON.parse(await readFile(f, 'utf8')) as RunFile));
  await render(mergeRuns(files));
  process.exit(0);
}
const commit = await new Promise<string | undefined>((resolve) => execFile('git', ['rev-parse', 'HEAD'], { cwd: ROOT }, (err, out) => resolve(err ? undefined : out.trim())));
const run: RunFile = { startedAt: now(), machineLine: await machine(), asked: sizes, results: [], ...(commit ? { commit } : {}) };
// Every figure of the run, so the section and plot can be rendered again (--render) without measuring again.
const resultsFile = join(os.tmpdir(), `kdb-bench-scale-${process.pid}.json`);
for (const [i, n] of sizes.entries()) {
  log(`size ${n} (load ${load()})…`);
  try {
    const last = run.results[run.results.length - 1];
    const b = last?.bytes;
    run.results.push(await measure(n, i, b && last ? (b.table + b.postings + b.vectors + b.indexes) / last.n : BYTES_PER_RECORD_GUESS));
  } catch (err) {
    log(`size ${n} failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
    break;
  }
  await writeFile(resultsFile, JSON.stringify(run));
  log(`results so far in ${resultsFile}`);
  // Rewritten after each size: a long run that is stopped keeps its smaller sizes.
  await render(run);
}
if (run.results.some((r) => r.equal !== r.checked || r.reindex.embedded !== 0)) process.exitCode = 1;
// The children are stopped; the kept-alive sockets of getJson would keep the loop alive.
process.exit(process.exitCode ?? 0);
