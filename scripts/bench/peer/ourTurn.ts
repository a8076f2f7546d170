/**
 * One turn of our pipeline, measured through its HTTP API as a user would:
 * an API and two worker processes on a fresh database, the openai provider
 * against the bench's local OpenAI wire-format server. Load: one NDJSON
 * request, timed until every row is `ready` (searchable). Search: after the
 * vectors are in HNSW segments, ef_search (KDB_EF_SEARCH, an API restart per
 * setting) stepped up to the target recall. Re-ingest: the same texts again
 * as new records, into the now live entity, once the first load is sealed
 * into HNSW segments (as it is after a search turn): the seal's build is the
 * first load's work, not the re-ingest's.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { vectorIndexStatus } from '@kameleondb/core';
import type { FakeOpenAI } from '../../../test-support/fakeOpenAI.js';
import type { ChildApp } from '../../../test-support/processes.js';
import { ndjsonOf } from '../ingestRecord.js';
import { dbUrl, deleteRedisKeys, dropDatabase, freshDatabase, getJson, REDIS, startApi, startStack, stop, waitCompacted } from '../harness.js';
import { PEER_DIMENSIONS, peerQueries } from './corpus.js';
import { exactKthDistance, searchAtRecall, type SearchAtRecall } from './searchAtRecall.js';

export interface OurTurn {
  loadS: number;
  loadRequests: number;
  /** Until every vector is in an HNSW segment (only when search was measured). */
  compactS?: number;
  reingestS?: number;
  reingestRequests?: number;
  search?: SearchAtRecall;
  /** Peak RSS of the API and of each worker process (KB). */
  rssKB: { api: number; workers: number[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Peak resident set of a live process (VmHWM), in KB; 0 when it cannot be read. */
function peakRssKB(pid: number | undefined): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function waitReady(c: pg.Client, total: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await c.query(`SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready, count(*) FILTER (WHERE status <> 'ready')::int AS other FROM kdb_search`);
    if (rows[0].other === 0 && rows[0].ready === total) return;
    if (Date.now() > deadline) throw new Error(`our pipeline: ${rows[0].ready} of ${total} records searchable after ${timeoutMs / 1000} s (${rows[0].other} not ready)`);
    await sleep(25);
  }
}

async function post(url: string, n: number): Promise<void> {
  const res = await fetch(`${url}/v1/entities/bench/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjsonOf(0, n) });
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

const requestsBetween = (fake: FakeOpenAI, start: number, end: number) => fake.requests.filter((r) => r.at >= start && r.at <= end).length;

export async function runOurTurn(o: {
  label: string;
  fake: FakeOpenAI;
  n: number;
  reingest: boolean;
  search?: { queries: number; recallQueries: number };
  timeoutMs: number;
}): Promise<OurTurn> {
  const log = (s: string) => process.stderr.write(`  [ours ${o.label}] ${s}\n`);
  const { db, prefix, env, stack, c } = await startOurs(o.label, o.fake);
  let api = stack.api;
  let apiPeak = 0;
  try {
    await createBenchEntity(api.url);

    const start = Date.now();
    const t0 = performance.now();
    await post(api.url, o.n);
    await waitReady(c, o.n, o.timeoutMs);
    const out: OurTurn = { loadS: (performance.now() - t0) / 1000, loadRequests: requestsBetween(o.fake, start, Date.now()), rssKB: { api: 0, workers: [] } };
    log(`load of ${o.n}: ${out.loadS.toFixed(2)} s, ${out.loadRequests} provider requests`);

    if (o.search) {
      const compacted = await Promise.race([waitCompacted(c), sleep(o.timeoutMs).then(() => Promise.reject(new Error(`our pipeline: vectors not all in HNSW segments after ${o.timeoutMs / 1000} s`)))]);
      out.compactS = (compacted - start) / 1000;
      log(`in HNSW segments after ${out.compactS.toFixed(2)} s`);
      const searched = await searchOurs({ env, api, fake: o.fake, c, search: o.search, log });
      api = searched.api;
      apiPeak = searched.apiPeakKB;
      out.search = searched.search;
    }

    if (o.reingest) {
      if (out.compactS === undefined) {
        await Promise.race([waitCompacted(c), sleep(o.timeoutMs).then(() => Promise.reject(new Error(`our pipeline: vectors not all in HNSW segments after ${o.timeoutMs / 1000} s`)))]);
        log('first load in HNSW segments; re-ingest next');
      }
      const again = Date.now();
      const t1 = performance.now();
      await post(api.url, o.n);
      await waitReady(c, 2 * o.n, o.timeoutMs);
      out.reingestS = (performance.now() - t1) / 1000;
      out.reingestRequests = requestsBetween(o.fake, again, Date.now());
      log(`re-ingest of the same ${o.n} texts: ${out.reingestS.toFixed(2)} s, ${out.reingestRequests} provider requests`);
    }
    out.rssKB = { api: Math.max(apiPeak, peakRssKB(api.proc.pid)), workers: stack.workers.map((w) => peakRssKB(w.proc.pid)) };
    return out;
  } finally {
    await c.end();
    await stop([api, ...stack.workers]);
    await deleteRedisKeys(prefix);
    await dropDatabase(db);
  }
}

/**
 * Vector top-10 at equal recall through the API `api` (on `env`'s database,
 * its vectors sealed): ef_search stepped up, an API restart with
 * KDB_EF_SEARCH per setting after the first. Returns the API left running
 * and the peak RSS of those it stopped.
 */
export async function searchOurs(o: {
  env: Record<string, string>;
  api: ChildApp & { url: string };
  fake: FakeOpenAI;
  c: pg.Client;
  search: { queries: number; recallQueries: number };
  log: (s: string) => void;
}): Promise<{ search: SearchAtRecall; api: ChildApp & { url: string }; apiPeakKB: number }> {
  let { api } = o;
  let apiPeakKB = 0;
  const queries = peerQueries(o.search.queries);
  const vectorOf = (q: string) => `[${Array.from(o.fake.vectorOf(q, PEER_DIMENSIONS)).join(',')}]`;
  // Each setting is a restart with KDB_EF_SEARCH, unless the API was started pinned to it (its default is auto).
  let ef = o.env.KDB_EF_SEARCH && o.env.KDB_EF_SEARCH !== 'auto' ? Number(o.env.KDB_EF_SEARCH) : undefined;
  const search = await searchAtRecall(
    {
      async setEf(next) {
        if (next === ef) return;
        apiPeakKB = Math.max(apiPeakKB, peakRssKB(api.proc.pid));
        await stop([api]);
        api = await startApi({ ...o.env, KDB_EF_SEARCH: String(next) });
        ef = next;
      },
      async search(q) {
        const answer = await getJson<{ results: { score: number }[]; took_ms: number }>(`${api.url}/v1/search?mode=vector&cache=false&entity=bench&limit=10&q=${encodeURIComponent(q)}`);
        return { distances: answer.results.map((r) => 1 - r.score), serverMs: answer.took_ms };
      },
      // A fresh database's first embedding space holds its vectors.
      exactKth: (q) => exactKthDistance(o.c, 'kdb_vectors_1', vectorOf(q)),
    },
    queries,
    o.search.recallQueries,
    o.log,
  );
  return { search, api, apiPeakKB };
}

/** Our side of a search-only run: a database loaded once and sealed, searched in several turns. */
export interface OurLoaded {
  db: string;
  env: Record<string, string>;
  prefix: string;
  /** Unknown (NaN) for a database loaded by an earlier run. */
  loadS: number;
  compactS: number;
  /** A database an earlier run loaded (KDB_BENCH_DB): kept afterwards. */
  kept?: boolean;
}

/** A fresh database named after `label`, an API and 2 workers on it, and a client of it. */
async function startOurs(label: string, fake: FakeOpenAI) {
  const db = `kdb_peer_ours_${process.pid}_${label.replace(/\W+/g, '_')}`;
  await freshDatabase(db);
  const prefix = `{kdbpeer-${process.pid}-${label.replace(/\W+/g, '-')}}`;
  const env = ourEnv(db, prefix, fake);
  const stack = await startStack(env, 2);
  const c = new pg.Client({ connectionString: dbUrl(db) });
  await c.connect();
  return { db, prefix, env, stack, c };
}

/** The entity every bench:peer load goes into (records of ./corpus.ts). */
export async function createBenchEntity(apiUrl: string): Promise<void> {
  const created = await fetch(`${apiUrl}/v1/entities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', fields: { title: 'text', body: 'text' }, embedFields: ['title', 'body'] }),
  });
  if (created.status !== 201) throw new Error(`entity create answered ${created.status}: ${await created.text()}`);
}

/** Our processes' environment for a bench:peer load on `db`: the openai provider against the local wire-format server. */
export const ourEnv = (db: string, prefix: string, fake: FakeOpenAI): Record<string, string> => ({
  KDB_DATABASE_URL: dbUrl(db),
  KDB_REDIS_URL: REDIS,
  KDB_QUEUE_PREFIX: prefix,
  KDB_AUTH: 'disabled',
  KDB_EMBEDDING_PROVIDER: 'openai',
  KDB_EMBEDDING_DIMENSIONS: String(PEER_DIMENSIONS),
  OPENAI_API_KEY: 'sk-bench',
  OPENAI_BASE_URL: fake.url,
});

/** Our side on database `db`, which an earlier run loaded with the same records and sealed (checked: nothing hot). */
export async function keptOurs(db: string, fake: FakeOpenAI, n: number): Promise<OurLoaded> {
  const c = new pg.Client({ connectionString: dbUrl(db) });
  await c.connect();
  try {
    const status = await vectorIndexStatus(c, 1);
    const rows = status.segments.reduce((a, s) => a + s.rows, 0);
    if (status.hotRows > 0 || rows !== n) throw new Error(`KDB_BENCH_DB=${db}: ${rows} sealed and ${status.hotRows} hot vectors; a search-only run needs the ${n} records all sealed`);
  } finally {
    await c.end();
  }
  const prefix = `{kdbpeer-${process.pid}-kept}`;
  return { db, env: ourEnv(db, prefix, fake), prefix, loadS: NaN, compactS: NaN, kept: true };
}

/** Loads `n` records into a fresh database through an API and 2 workers, waits until all are in HNSW segments, stops the processes and keeps the database. */
export async function loadOurs(o: { label: string; fake: FakeOpenAI; n: number; timeoutMs: number }): Promise<OurLoaded> {
  const log = (s: string) => process.stderr.write(`  [ours ${o.label}] ${s}\n`);
  const { db, prefix, env, stack, c } = await startOurs(o.label, o.fake);
  try {
    await createBenchEntity(stack.url);
    const start = Date.now();
    const t0 = performance.now();
    await post(stack.url, o.n);
    await waitReady(c, o.n, o.timeoutMs);
    const loadS = (performance.now() - t0) / 1000;
    log(`load of ${o.n}: ${loadS.toFixed(2)} s`);
    const compacted = await Promise.race([waitCompacted(c), sleep(o.timeoutMs).then(() => Promise.reject(new Error(`our pipeline: vectors not all in HNSW segments after ${o.timeoutMs / 1000} s`)))]);
    const compactS = (compacted - start) / 1000;
    log(`in HNSW segments after ${compactS.toFixed(2)} s`);
    return { db, env, prefix, loadS, compactS };
  } finally {
    await c.end();
    await stop([stack.api, ...stack.workers]);
  }
}

/** One search turn on a database loadOurs kept: a fresh API process (no workers: nothing is left to embed or seal). */
export async function searchLoadedOurs(o: { label: string; loaded: OurLoaded; fake: FakeOpenAI; search: { queries: number; recallQueries: number } }): Promise<{ search: SearchAtRecall; rssKB: number }> {
  const log = (s: string) => process.stderr.write(`  [ours ${o.label}] ${s}\n`);
  const c = new pg.Client({ connectionString: dbUrl(o.loaded.db) });
  await c.connect();
  let api = await startApi(o.loaded.env);
  try {
    const searched = await searchOurs({ env: o.loaded.env, api, fake: o.fake, c, search: o.search, log });
    api = searched.api;
    return { search: searched.search, rssKB: Math.max(searched.apiPeakKB, peakRssKB(api.proc.pid)) };
  } finally {
    await c.end();
    await stop([api]);
  }
}

/** Drops what loadOurs kept. */
export async function dropOurs(loaded: OurLoaded): Promise<void> {
  await deleteRedisKeys(loaded.prefix);
  if (!loaded.kept) await dropDatabase(loaded.db);
}
