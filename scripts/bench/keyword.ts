/**
 * `pnpm bench:keyword [sizes…]` (default 10000 100000): the exact keyword
 * top-k against the raw full BM25 sum over every posting of the query terms,
 * per size, on a deterministic corpus of 20–300 words per document drawn
 * from a Zipfian vocabulary (s = 1 over 50,000 words). Rare, common,
 * multi-term and filtered (`where`, 10% of records) queries, the two
 * statements run in alternating turns; the top 10 is checked against the
 * full sum on 200 of the queries at every size. Records are written by
 * ingestRecords (the API's write path: records, search rows, postings and
 * statistics in one transaction per chunk); no worker runs, keyword search
 * needs no vectors.
 *
 * `KDB_BENCH_REUSE=1 pnpm bench:keyword [sizes…]` keeps each size's loaded
 * database (`kdb_bench_keyword_<size>`) and measures on it again in later runs
 * instead of loading it anew (the 100,000-record load takes about 18 minutes);
 * drop the databases by hand when done. `KDB_BENCH_KEEP=1` keeps a run's
 * databases under their per-run names.
 */
import os from 'node:os';
import pg from 'pg';
import { BM25_B, BM25_K1, bm25Idf, createEmbedQueue, createEntity, fromJsonBody, ingestRecords, keywordTopKAllLayouts, migrate, readStatsAndHeads, tokenize } from '@kameleondb/core';
import { admin, dbUrl, deleteRedisKeys, dropDatabase, freshDatabase, machine, now, percentile, PG, REDIS, writeSection } from './harness.js';
import { fullBm25Sum, keywordQueries, sameTopK, zipfCorpus, type KeywordQuery as Query } from './zipfCorpus.js';

const sizes = process.argv.slice(2).map(Number);
if (!sizes.length) sizes.push(10_000, 100_000);
for (const n of sizes) if (!Number.isInteger(n) || n < 1000) throw new Error(`sizes must be integers of at least 1000, got ${n}`);
const K = 10;
const REUSE = process.env.KDB_BENCH_REUSE === '1';

interface SizeResult {
  n: number;
  postings: number;
  loadS: number;
  /** The database was loaded by an earlier run (KDB_BENCH_REUSE); loadS is that run's. */
  reused: boolean;
  rows: { kind: string; topk: number[]; full: number[]; readShare: number[] }[];
  checked: number;
  equal: number;
}

async function measure(n: number): Promise<SizeResult> {
  const name = REUSE ? `kdb_bench_keyword_${n}` : `kdb_bench_keyword_${process.pid}_${n}`;
  const loaded = REUSE ? await loadedBefore(name, n) : undefined;
  const url = loaded === undefined ? await freshDatabase(name) : dbUrl(name);
  const prefix = `{kdbbench-k-${process.pid}-${n}}`;
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const queue = createEmbedQueue({ redis: REDIS, prefix });
  try {
    const loadS = loaded ?? (await load(n, url, pool, queue));
    if (loaded === undefined && REUSE) await admin(`COMMENT ON DATABASE ${name} IS '${LOADED_MARK} ${n} ${loadS.toFixed(1)}'`);
    const postings = Number((await pool.query("SELECT count(*) AS c FROM kdb_postings_of('scale')")).rows[0].c);

    const topk = async ({ q, where }: Pick<Query, 'q' | 'where'>) => {
      const first = await readStatsAndHeads(pool, { entities: ['scale'], terms: [...new Set(tokenize(q))], k: K });
      const present = [...first.df].filter(([, d]) => d > 0).map(([term, d]) => ({ term, df: d, idf: bm25Idf(first.documents, d) }));
      const avgdl = first.totalLength / first.documents;
      const top = await keywordTopKAllLayouts(pool, { entities: ['scale'], terms: present, k: K, k1: BM25_K1, b: BM25_B, avgdl, firstRound: first.heads, firstRoundQuery: first.query, firstGroups: { groups: first.groups, query: first.query }, where });
      return { top, present, avgdl, total: present.reduce((s, p) => s + p.df, 0) };
    };
    // The reference: statistics read once up front (not timed), then one full-sum statement.
    const statsOf = new Map<string, { terms: string[]; idfs: number[]; avgdl: number }>();
    const full = async ({ q, where }: Query, limit = K) => {
      let s = statsOf.get(q);
      if (!s) {
        const { present, avgdl } = await topk({ q });
        statsOf.set(q, (s = { terms: present.map((p) => p.term), idfs: present.map((p) => p.idf), avgdl }));
      }
      return fullBm25Sum(pool, { entity: 'scale', terms: s.terms, idfs: s.idfs, k1: BM25_K1, b: BM25_B, avgdl: s.avgdl, limit, where });
    };
    const queries = keywordQueries();
    for (const q of queries) await full(q); // statistics cached, pages warm for both
    const rows = new Map<string, SizeResult['rows'][number]>();
    for (let turn = 0; turn < 2; turn++) {
      for (const [i, q] of queries.entries()) {
        let row = rows.get(q.kind);
        if (!row) rows.set(q.kind, (row = { kind: q.kind, topk: [], full: [], readShare: [] }));
        // Alternating which goes first, so drift and cache warmth fall on both alike.
        const order = (i + turn) % 2 ? ['topk', 'full'] : ['full', 'topk'];
        for (const which of order) {
          const t = performance.now();
          if (which === 'topk') {
            const { top, total } = await topk(q);
            row.topk.push(performance.now() - t);
            if (turn === 0) row.readShare.push(total ? (top.rows.postingsRead + top.blocks.blockPostingsRead) / total : 0);
          } else {
            await full(q);
            row.full.push(performance.now() - t);
          }
        }
      }
    }
    // Exactness: the top 10 against the full sum on 200 queries (50 of each kind), ties by id within 1e-9.
    let checked = 0;
    let equal = 0;
    for (const q of queries.filter((_, i) => i % 2 === 0)) {
      const { top } = await topk(q);
      checked++;
      const same = sameTopK(top.hits, await full(q, K + 50), K);
      if (same) equal++;
      else process.stderr.write(`MISMATCH at ${n}: ${JSON.stringify(q)}\n`);
    }
    return { n, postings, loadS, reused: loaded !== undefined, rows: [...rows.values()], checked, equal };
  } finally {
    await queue.close();
    await pool.end();
    await deleteRedisKeys(prefix);
    if (!process.env.KDB_BENCH_KEEP && !REUSE) await dropDatabase(name);
  }
}

/** Marks a database whose load finished (its comment: the mark, the records, the load's seconds). */
const LOADED_MARK = 'kdb bench:keyword loaded';

/** The load's seconds when `name` holds a finished load of `n` records (KDB_BENCH_REUSE), else undefined. */
async function loadedBefore(name: string, n: number): Promise<number | undefined> {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  try {
    const { rows } = await c.query<{ d: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS d FROM pg_database WHERE datname = $1`, [name]);
    const m = rows[0]?.d?.match(/^kdb bench:keyword loaded (\d+) ([\d.]+)$/);
    return m && Number(m[1]) === n ? Number(m[2]) : undefined;
  } finally {
    await c.end();
  }
}

/** Writes the corpus's first `n` records by ingestRecords, 10,000 a transaction; returns the seconds taken. */
async function load(n: number, url: string, pool: pg.Pool, queue: ReturnType<typeof createEmbedQueue>): Promise<number> {
  await migrate({ connectionString: url });
  const entity = await createEntity(pool, { name: 'scale', fields: { body: 'text', team: 'text' }, embedFields: ['body'] });
  const t0 = performance.now();
  const docs = zipfCorpus(n);
  for (let done = 0; done < n; ) {
    const chunk: Record<string, unknown>[] = [];
    // Not a for-of: leaving one would close the generator.
    for (let next = docs.next(); !next.done; next = docs.next()) {
      chunk.push(next.value);
      if (chunk.length === 10_000) break;
    }
    await ingestRecords({ pool, queue, entity, records: fromJsonBody(chunk) });
    done += chunk.length;
    process.stderr.write(`  ${n}: ${done} records written\n`);
  }
  const loadS = (performance.now() - t0) / 1000;
  await pool.query('VACUUM ANALYZE');
  await pool.query('CHECKPOINT');
  return loadS;
}

const startedAt = now();
// The machine is shared: the figures are read beside its load.
const loadAtStart = os.loadavg()[0]!.toFixed(1);
const results: SizeResult[] = [];
// The section is rewritten after each size, so a long run that is stopped keeps its smaller sizes.
for (const n of sizes) {
  process.stderr.write(`size ${n}…\n`);
  results.push(await measure(n));
  await writeSection('keyword', await section());
}
async function section(): Promise<string[]> {
  const f = (x: number) => x.toFixed(2);
  const lines = [
    '## Keyword top-k at scale (`pnpm bench:keyword`)',
    '',
    `Run ${startedAt} on ${await machine()}. Load average (1 min) at the start ${loadAtStart}, at the end ${os.loadavg()[0]!.toFixed(1)}.`,
    `Corpus: per record 20–300 words (uniform) drawn from a Zipfian vocabulary (s = 1, 50,000 words; the commonest word is in nearly every record), one \`team\` field of 10 values; written by the API's ingest path, no vectors. Top ${K}, 100 queries per kind, each run twice against the raw full BM25 sum (one statement over every posting of the query terms, statistics given) in alternating turns, in one process on one pool. "Top-k" is what the keyword retriever runs: the statistics with the first round in one statement, then keywordTopKAllLayouts (the rows' rounds beside the blocks'). "Read" is the median share of the query terms' postings the top-k read: rows from the impact index, and every posting of each block whose body it read.`,
    '',
    '| records | postings | query kind | top-k p50 / p95 (ms) | full sum p50 / p95 (ms) | full sum p95 ÷ top-k p95 | postings read (median) |',
    '|---:|---:|---|---:|---:|---:|---:|',
    ...results.flatMap((r) =>
      r.rows.map((row) => `| ${r.n} | ${r.postings} | ${row.kind} | ${f(percentile(row.topk, 50))} / ${f(percentile(row.topk, 95))} | ${f(percentile(row.full, 50))} / ${f(percentile(row.full, 95))} | ${(percentile(row.full, 95) / percentile(row.topk, 95)).toFixed(1)}× | ${(percentile(row.readShare, 50) * 100).toFixed(1)}% |`),
    ),
    '',
    `Exact: ${results.map((r) => `${r.n} records: top ${K} equal to the full sum on ${r.equal} of ${r.checked} queries`).join('; ')}. Load (ingestRecords, 10,000 records a transaction): ${results.map((r) => `${r.n} in ${r.loadS.toFixed(0)} s${r.reused ? ' (an earlier run\'s load, reused)' : ''}`).join(', ')}.`,
  ];
  if (results.length > 1) {
    const [a, b] = [results[0]!, results[results.length - 1]!];
    lines.push('', `Growth from ${a.n} to ${b.n} records (${(b.n / a.n).toFixed(0)}× the records), p95 ratio per kind: ` +
      a.rows.map((row, i) => `${row.kind}: top-k ${(percentile(b.rows[i]!.topk, 95) / percentile(row.topk, 95)).toFixed(1)}×, full sum ${(percentile(b.rows[i]!.full, 95) / percentile(row.full, 95)).toFixed(1)}×`).join('; ') + '.');
  }
  return lines;
}

if (results.some((r) => r.equal !== r.checked)) process.exitCode = 1;
process.exit(process.exitCode ?? 0);
