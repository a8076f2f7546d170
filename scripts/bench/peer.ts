/**
 * `pnpm bench:peer [--sizes 30000,100000] [--turns 3] [--delay 0,100] [--peers default,2048,cached] [--ours-only] [--only all|search]`:
 * our pipeline against what a TypeScript team would write instead,
 * LangChain.js PGVectorStore + OpenAIEmbeddings (optionally behind
 * CacheBackedEmbeddings on Redis), both on the same PostgreSQL and the same
 * local OpenAI wire-format server (384 dimensions, a delay per request).
 * Turns alternate, ours then each LangChain variant, each system on its own
 * fresh database. Measured: time until all records are searchable; the same
 * texts again as new records (at the smallest size); vector top-10 p50/p95 at
 * recall@10 ≥ 0.95 on each side (at the largest size, first delay); peak
 * RSS. Every turn is reported with the median ratio; BENCHMARKS.md gets the
 * section. `--ours-only` runs no LangChain variant (our re-ingest ÷ our first
 * ingest, the figures of our side) and writes a section of its own. Exits 1 when a system never became fully searchable or could not
 * reach the recall, after writing what was measured.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { HNSW_BUILD } from '@kameleondb/core';
import { startFakeOpenAI } from '../../test-support/fakeOpenAI.js';
import { dbUrl as harnessDbUrl, deleteRedisKeys, dropDatabase, freshDatabase, machine, now, REDIS, writeSection } from './harness.js';
import { runLangChainTurn, type LangChainTurnOutput } from './peer/langchainTurn.js';
import { dropOurs, keptOurs, loadOurs, runOurTurn, searchLoadedOurs, type OurLoaded, type OurTurn } from './peer/ourTurn.js';
import { TARGET_RECALL, type SearchAtRecall } from './peer/searchAtRecall.js';
import { PEER_DETAILS, peerSummary } from './peer/peerSummary.js';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '30000,100000' },
    turns: { type: 'string', default: '3' },
    delay: { type: 'string', default: '0,100' },
    peers: { type: 'string', default: 'default,2048,cached' },
    queries: { type: 'string', default: '300' },
    'recall-queries': { type: 'string', default: '100' },
    'timeout-min': { type: 'string', default: '30' },
    // Where vector search is measured: the largest size unless given; 0 measures none.
    'search-size': { type: 'string' },
    // Our turns alone (no LangChain variant): our own ratios, such as re-ingest ÷ first ingest, in less time.
    'ours-only': { type: 'boolean', default: false },
    // `search` skips the re-ingest comparison (a search-only run on a loaded machine).
    only: { type: 'string', default: 'all' },
  },
});
const PEERS = { default: { batchSize: undefined, cache: false }, '2048': { batchSize: 2048, cache: false }, cached: { batchSize: undefined, cache: true } } as const;
type Peer = keyof typeof PEERS;
const positive = (name: string, xs: number[]) => {
  const bad = xs.find((x) => !Number.isInteger(x) || x < 0);
  if (bad !== undefined || xs.length === 0) throw new Error(`--${name} takes a comma-separated list of whole numbers ≥ 0; got ${JSON.stringify(args[name as keyof typeof args])}`);
  return xs;
};
const sizes = positive('sizes', list(args.sizes).map(Number));
const delays = positive('delay', list(args.delay).map(Number));
const [turns, queryCount, recallQueries, timeoutMin] = (['turns', 'queries', 'recall-queries', 'timeout-min'] as const).map((k) => positive(k, [Number(args[k])])[0]!);
const oursOnly = args['ours-only'];
const peers = (oursOnly ? [] : list(args.peers)).map((p) => {
  if (!(p in PEERS)) throw new Error(`--peers: unknown variant ${JSON.stringify(p)}; allowed: ${Object.keys(PEERS).join(', ')}`);
  return p as Peer;
});
if (turns! < 1 || recallQueries! < 1 || recallQueries! > queryCount!) throw new Error('--turns must be ≥ 1 and --recall-queries between 1 and --queries');
const searchSize = args['search-size'] === undefined ? Math.max(...sizes) : positive('search-size', [Number(args['search-size'])])[0]!;
if (args.only !== 'all' && args.only !== 'search') throw new Error(`--only takes all or search; got ${JSON.stringify(args.only)}`);
const reingestSize = args.only === 'search' ? -1 : Math.min(...sizes);
const searchDelay = delays[0]!;
// Vector search is measured on one LangChain variant (the graph does not depend on the batch size);
// re-ingest on the cached one when it runs, since that is where neither system calls the provider.
const searchPeer = peers[0];
const reingestPeer: Peer | undefined = peers.includes('cached') ? 'cached' : peers[0];
const timeoutMs = timeoutMin! * 60_000;

interface Turn {
  delay: number;
  n: number;
  turn: number;
  system: 'ours' | Peer;
  loadS?: number;
  loadRequests?: number;
  compactS?: number;
  reingestS?: number;
  reingestRequests?: number;
  search?: SearchAtRecall & { plan?: string };
  rss?: string;
  rssMB?: number;
  error?: string;
}
const results: Turn[] = [];
const log = (s: string) => process.stderr.write(`${s}\n`);
const mb = (kb: number) => kb / 1024;

const fake = await startFakeOpenAI();
const countRequests = (start: number, end: number) => fake.requests.filter((r) => r.at >= start && r.at <= end).length;
const searchLoads: string[] = [];
if (args.only === 'search') {
  // Search alone: each system loads once (ours until sealed), then the search turns alternate on those
  // databases, close together in time, without a load (and a seal) between them.
  fake.delayMs = searchDelay;
  const n = searchSize;
  const search = { queries: queryCount!, recallQueries: recallQueries! };
  const label = `${searchDelay}ms-${n}-search`;
  const lcDb = `kdb_peer_lc_${process.pid}_${label.replace(/\W+/g, '_')}`;
  let ours: OurLoaded | undefined;
  try {
    log(`search-only run: loading ${n} records into each system`);
    // KDB_BENCH_DB: our side on a database an earlier load left sealed (the load is not what a search-only run measures).
    ours = process.env.KDB_BENCH_DB ? await keptOurs(process.env.KDB_BENCH_DB, fake, n) : await loadOurs({ label, fake, n, timeoutMs });
    // KDB_BENCH_PEER_DB: LangChain's side on a database whose peer_documents table (its schema, its m=16/64 index) holds the records.
    const peerDb = process.env.KDB_BENCH_PEER_DB;
    const dbUrl = peerDb ? harnessDbUrl(peerDb) : await freshDatabase(lcDb);
    const lcInput = { label: `${searchPeer}-${label}`, dbUrl, redisUrl: REDIS, baseURL: fake.url, n, reingest: false, ...(PEERS[searchPeer!].batchSize ? { batchSize: PEERS[searchPeer!].batchSize } : {}) };
    const lcLoad: LangChainTurnOutput = peerDb ? { phases: {}, maxRssKB: 0 } : await runLangChainTurn(lcInput, timeoutMs * 2);
    for (let turn = 1; turn <= turns!; turn++) {
      const base = { delay: searchDelay, n, turn };
      const first = turn === 1;
      searchLoads.push(`turn ${turn}: ${os.loadavg().map((x) => x.toFixed(1)).join(', ')}`);
      log(`search turn ${turn}/${turns}: ${n} records (${searchLoads[searchLoads.length - 1]})`);
      try {
        const o = await searchLoadedOurs({ label: `${label}-t${turn}`, loaded: ours, fake, search });
        results.push({ ...base, system: 'ours', ...(first ? { loadS: ours.loadS } : {}), compactS: ours.compactS, search: o.search, rssMB: mb(o.rssKB), rss: `${mb(o.rssKB).toFixed(0)} (API)` });
      } catch (err) {
        log(`ours failed: ${String(err)}`);
        results.push({ ...base, system: 'ours', error: String(err).split('\n')[0] });
      }
      try {
        const out = await runLangChainTurn({ ...lcInput, label: `${searchPeer}-${label}-t${turn}`, loaded: true, search }, timeoutMs * 2);
        results.push({ ...base, system: searchPeer!, ...(first && lcLoad.phases.load ? { loadS: lcLoad.phases.load.seconds } : {}), ...(out.search ? { search: out.search } : {}), rssMB: mb(out.maxRssKB), rss: `${mb(out.maxRssKB).toFixed(0)} (one process)` });
      } catch (err) {
        log(`LangChain search turn ${turn} failed: ${String(err)}`);
        results.push({ ...base, system: searchPeer!, error: String(err).split('\n')[0] });
      }
    }
  } catch (err) {
    log(`search-only load failed: ${String(err)}`);
    results.push({ delay: searchDelay, n, turn: 1, system: 'ours', error: String(err).split('\n')[0] });
  } finally {
    if (ours) await dropOurs(ours).catch(() => undefined);
    await dropDatabase(lcDb).catch(() => undefined);
  }
}
for (const delay of args.only === 'search' ? [] : delays) {
  fake.delayMs = delay;
  for (const n of sizes) {
    for (let turn = 1; turn <= turns!; turn++) {
      const search = n === searchSize && delay === searchDelay ? { queries: queryCount!, recallQueries: recallQueries! } : undefined;
      const base = { delay, n, turn };
      log(`turn ${turn}/${turns}: ${n} records, provider delay ${delay} ms`);
      try {
        const o: OurTurn = await runOurTurn({ label: `${delay}ms-${n}-t${turn}`, fake, n, reingest: n === reingestSize, ...(search ? { search } : {}), timeoutMs });
        const rssKB = o.rssKB.api + o.rssKB.workers.reduce((a, b) => a + b, 0);
        results.push({ ...base, system: 'ours', ...o, rssMB: mb(rssKB), rss: `${mb(rssKB).toFixed(0)} (API ${mb(o.rssKB.api).toFixed(0)} + workers ${o.rssKB.workers.map((w) => mb(w).toFixed(0)).join(' + ')})` });
      } catch (err) {
        log(`ours failed: ${String(err)}`);
        results.push({ ...base, system: 'ours', error: String(err).split('\n')[0] });
      }
      fake.requests.length = 0;
      for (const peer of peers) {
        const label = `${peer}-${delay}ms-${n}-t${turn}`;
        const db = `kdb_peer_lc_${process.pid}_${label.replace(/\W+/g, '_')}`;
        const cacheNamespace = PEERS[peer].cache ? `kdbpeer-lc-${process.pid}-${label}` : undefined;
        try {
          const dbUrl = await freshDatabase(db);
          const out: LangChainTurnOutput = await runLangChainTurn(
            {
              label,
              dbUrl,
              redisUrl: REDIS,
              baseURL: fake.url,
              n,
              ...(PEERS[peer].batchSize ? { batchSize: PEERS[peer].batchSize } : {}),
              ...(cacheNamespace ? { cacheNamespace } : {}),
              reingest: n === reingestSize && peer === reingestPeer,
              ...(search && peer === searchPeer ? { search } : {}),
            },
            timeoutMs * 2,
          );
          const { load, reingest } = out.phases;
          results.push({
            ...base,
            system: peer,
            loadS: load!.seconds,
            loadRequests: countRequests(load!.start, load!.end),
            ...(reingest ? { reingestS: reingest.seconds, reingestRequests: countRequests(reingest.start, reingest.end) } : {}),
            ...(out.search ? { search: out.search } : {}),
            rssMB: mb(out.maxRssKB),
            rss: `${mb(out.maxRssKB).toFixed(0)} (one process)`,
          });
        } catch (err) {
          log(`LangChain ${label} failed: ${String(err)}`);
          results.push({ ...base, system: peer, error: String(err).split('\n')[0] });
        } finally {
          await dropDatabase(db).catch(() => undefined);
          // The child removes its cache keys (`NAMESPACE:…`); a failed child's are removed here.
          if (cacheNamespace) await deleteRedisKeys(cacheNamespace).catch(() => undefined);
        }
        fake.requests.length = 0;
      }
    }
  }
}
await fake.close();

const failures = results.filter((r) => r.error || (r.search && r.search.ef === null));
const f = (x: number | undefined, d = 2) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const NAME: Record<Turn['system'], string> = {
  ours: 'ours (HTTP API + 2 workers)',
  default: 'LangChain.js, batchSize default (512)',
  '2048': 'LangChain.js, batchSize 2048',
  cached: 'LangChain.js + CacheBackedEmbeddings on Redis',
};
const find = (r: Pick<Turn, 'delay' | 'n' | 'turn'>, system: Turn['system']) => results.find((x) => x.delay === r.delay && x.n === r.n && x.turn === r.turn && x.system === system);
/** "a, b, c (median m)" of one figure per turn of one delay and size. */
function perTurn(figure: (turn: number) => number | undefined): string {
  const xs: number[] = [];
  for (let turn = 1; turn <= turns!; turn++) {
    const x = figure(turn);
    if (x !== undefined && Number.isFinite(x)) xs.push(x);
  }
  return xs.length ? `${xs.map((x) => `${x.toFixed(2)}×`).join(', ')} (median **${median(xs).toFixed(2)}×**)` : '–';
}
/** `pick` of system `a` ÷ `pick` of system `b`, turn by turn. */
function ratios(delay: number, n: number, pick: (r: Turn) => number | undefined, a: Turn['system'], b: Turn['system'] = 'ours'): string {
  return perTurn((turn) => {
    const x = find({ delay, n, turn }, a);
    const y = find({ delay, n, turn }, b);
    return x && y && !x.error && !y.error ? pick(x)! / pick(y)! : undefined;
  });
}

const lines = [
  `### ${sizes.join(' and ')} records, provider delay ${delays.join(' and ')} ms, ${turns} turn(s)`,
  '',
  `Run ${now()} on ${await machine()}. Command: \`pnpm bench:peer --sizes ${sizes.join(',')} --turns ${turns} --delay ${delays.join(',')} ${oursOnly ? '--ours-only' : `--peers ${peers.join(',')}`}${args['search-size'] === undefined ? '' : ` --search-size ${searchSize}`}${args.only === 'search' ? ' --only search' : ''}\`.`,
  `Both systems on the same PostgreSQL, each turn on its own fresh database, and the same local OpenAI wire-format server (${384} dimensions; it answers after the given delay per request; vectors by feature hashing, so records sharing subject words are near). Records: bench:ingest's (6 of the 20 words of one of 1,000 subjects, 6 words of a 5,000-word vocabulary, their number); LangChain gets our embedded text (\`title: … | body: …\`) as pageContent. Turns alternate: ours, then each LangChain variant.`,
  ...(args.only === 'search'
    ? [
        `**Search only** (\`--only search\`): each system loaded once (ours ${process.env.KDB_BENCH_DB ? `on \`KDB_BENCH_DB=${process.env.KDB_BENCH_DB}\`, loaded and sealed by an earlier run` : 'in this run, until sealed'}; LangChain ${process.env.KDB_BENCH_PEER_DB ? `on the \`peer_documents\` table of \`KDB_BENCH_PEER_DB=${process.env.KDB_BENCH_PEER_DB}\`, made from the same records (id, text, metadata, embedding) with its createHnswIndex settings` : 'in this run'}), then the search turns alternate on those two databases; the load figures below are of that one load, not per turn. Load average (1, 5, 15 min) at the start of each search turn: ${searchLoads.join('; ')}.`,
      ]
    : []),
  `**Ours** is measured through its HTTP API as a user would: one NDJSON request, 2 worker processes, timed until every row is \`ready\` (searchable: exact scan of the hot range until a segment is sealed); HNSW segments m=${HNSW_BUILD.m}, ef_construction=${HNSW_BUILD.efConstruction}. Our re-ingest starts once the first load is sealed into HNSW segments, and its rows of cached texts get their vectors in the ingest transaction (KDB_INGEST_CACHED_VECTORS=on). **LangChain.js** (@langchain/community PGVectorStore, @langchain/openai OpenAIEmbeddings, @langchain/classic CacheBackedEmbeddings with @langchain/community RedisByteStore) runs in process, as its users run it: table and HNSW index (createHnswIndex defaults m=16, ef_construction=64) made before loading, one \`addDocuments\` call, timed until it resolves (every row then committed and in the index). Peak RSS: VmHWM of our API and worker processes (summed), maxRSS of the LangChain process; PostgreSQL's and Redis's memory is in neither.`,
  '',
  '#### Until searchable, and re-ingest of the same texts as new records',
  '',
  '| provider delay (ms) | records | turn | system | all searchable after (s) | provider requests | re-ingest: searchable after (s) | re-ingest provider requests | peak RSS (MB) |',
  '|---:|---:|---:|---|---:|---:|---:|---:|---|',
  ...results.map((r) =>
    r.error
      ? `| ${r.delay} | ${r.n} | ${r.turn} | ${NAME[r.system]} | **FAILED**: ${r.error.replace(/\|/g, '\\|')} | | | | |`
      : `| ${r.delay} | ${r.n} | ${r.turn} | ${NAME[r.system]} | **${f(r.loadS)}** | ${r.loadRequests ?? '–'} | ${f(r.reingestS)} | ${r.reingestRequests ?? '–'} | ${r.rss} |`,
  ),
  '',
  oursOnly ? 'Ratios in the same turn (our LangChain turns were not run: --ours-only):' : 'Ratios in the same turn (LangChain time ÷ ours; above 1 means ours is faster):',
  '',
];
for (const delay of delays)
  for (const n of sizes) {
    for (const peer of peers) lines.push(`- ${n} records, ${delay} ms, until searchable, ${NAME[peer]}: ${ratios(delay, n, (r) => r.loadS, peer)}`);
    if (n === reingestSize) {
      if (reingestPeer) lines.push(`- ${n} records, ${delay} ms, re-ingest, ${NAME[reingestPeer]}: ${ratios(delay, n, (r) => r.reingestS, reingestPeer)}`);
      lines.push(`- ${n} records, ${delay} ms, our re-ingest ÷ our first ingest (goal ≤ 0.5×): ${perTurn((turn) => {
          const r = find({ delay, n, turn }, 'ours');
          return r?.reingestS === undefined ? undefined : r.reingestS / r.loadS!;
        })}`);
    }
  }
if (results.some((r) => r.search)) {
  lines.push(
    '',
    `#### Vector top-10 at recall@10 ≥ ${TARGET_RECALL} (${searchSize} records, ${searchDelay} ms delay)`,
    '',
    `ef_search stepped up on each side until recall@10 against an exact scan of that system's own vectors (tie-aware: an answer as near as the exact 10th counts) reached ${TARGET_RECALL} on ${recallQueries} topic queries; then p50/p95 over ${queryCount} queries at concurrency 1, after a warm-up pass at that setting. Ours: \`GET /v1/search?mode=vector&limit=10\` over node:http keep-alive (query vectors then in its cache), after the load is sealed into HNSW segments, ef_search set with KDB_EF_SEARCH (an API restart per step); server took_ms beside it. LangChain: \`similaritySearchVectorWithScore(vector, 10)\` in process, query vectors embedded once beforehand, on a pool whose sessions \`SET hnsw.ef_search\`.`,
    '',
    '| turn | system | ef_search tried (recall@10) | ef_search used | recall@10 | p50 (ms) | p95 (ms) | server took_ms p50 / p95 | vectors in HNSW after (s); LangChain: the index its query scans |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|',
    ...results
      .filter((r) => r.search)
      .map((r) => {
        const s = r.search!;
        return `| ${r.turn} | ${NAME[r.system]} | ${s.steps.map((x) => `${x.ef} (${x.recall.toFixed(3)})`).join(', ')} | ${s.ef ?? '**none reached it**'} | ${s.recall.toFixed(3)} | ${f(s.p50)} | **${f(s.p95)}** | ${s.serverP50 === undefined ? '–' : `${f(s.serverP50)} / **${f(s.serverP95)}**`} | ${r.system === 'ours' ? f(r.compactS) : `at load (${s.plan ?? '?'})`} |`;
      }),
    '',
  );
  if (searchPeer) {
    lines.push(
      `Ratios in the same turn: our client p95 ÷ LangChain's in-process p95: ${ratios(searchDelay, searchSize, (r) => r.search?.p95, 'ours', searchPeer)}; our server took_ms p95 ÷ LangChain's p95 (goal ≤ 1×): ${ratios(searchDelay, searchSize, (r) => r.search?.serverP95 ?? r.search?.p95, 'ours', searchPeer)}.`,
    );
  }
}
if (failures.length) lines.push('', `**${failures.length} turn(s) failed** (a system never fully searchable, or recall below ${TARGET_RECALL} at every ef_search tried): see the rows marked above.`);
// One section per sizes and delays: a run of another configuration does not replace this one.
// A search-only run has its own section too: it leaves the last full run's ingest figures in place.
const section = `peer-${sizes.join('_')}-${delays.join('_')}ms${oursOnly ? '-ours' : ''}${args.only === 'search' ? '-search' : ''}`;
// Every turn and setting goes to docs/benchmarks/peer.md; BENCHMARKS.md keeps the run line and the ratios.
await writeSection(section, lines, PEER_DETAILS);
await writeSection(section, peerSummary(lines), 'BENCHMARKS.md');
if (failures.length) {
  log(`${failures.length} turn(s) failed`);
  process.exit(1);
}
process.exit(0);
