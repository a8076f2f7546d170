/**
 * `node --conditions=source --import tsx scripts/bench/measureBlockTopK.ts <db> [queries]`:
 * the blocks' top 10 on a database loaded by `KDB_BENCH_REUSE=1 pnpm bench:keyword N`
 * (kdb_bench_keyword_N), per query kind: p50/p95 of the whole search, of
 * reading the heads, the heads and blocks read, and the top 10 against the
 * full sum on every fourth query. For comparing blockTopK's variants at
 * 100k against 1M without loading again.
 */
import pg from 'pg';
import { BM25_B, BM25_K1, bm25Idf, blockTopK, readStatsAndHeads, tokenize } from '@kameleondb/core';
import { dbUrl, percentile } from './harness.js';
import { fullBm25Sum, keywordQueries, sameTopK } from './zipfCorpus.js';

const [name, count] = [process.argv[2]!, Number(process.argv[3] ?? 100)];
const pool = new pg.Pool({ connectionString: dbUrl(name), max: 4 });
const K = 10;
const queries = keywordQueries(count / 4);
const stats = new Map<string, { terms: { term: string; idf: number }[]; avgdl: number }>();
for (const q of queries) {
  const first = await readStatsAndHeads(pool, { entities: ['scale'], terms: [...new Set(tokenize(q.q))], k: K });
  stats.set(q.q, { terms: [...first.df].filter(([, d]) => d > 0).map(([term, d]) => ({ term, idf: bm25Idf(first.documents, d) })), avgdl: first.totalLength / first.documents });
}
const by = new Map<string, { ms: number[]; blocks: number[]; read: number[]; rounds: number[] }>();
let checked = 0;
let equal = 0;
for (let turn = 0; turn < 2; turn++) {
  for (const [i, q] of queries.entries()) {
    const s = stats.get(q.q)!;
    const t = performance.now();
    const top = await blockTopK(pool, { entities: ['scale'], terms: s.terms, k: K, k1: BM25_K1, b: BM25_B, avgdl: s.avgdl, where: q.where });
    const ms = performance.now() - t;
    let row = by.get(q.kind);
    if (!row) by.set(q.kind, (row = { ms: [], blocks: [], read: [], rounds: [] }));
    if (turn === 1) {
      row.ms.push(ms);
      row.blocks.push(top.blocks);
      row.read.push(top.blockPostingsRead);
      row.rounds.push(top.rounds);
    }
    if (turn === 1 && i % 4 === 0 && process.env.CHECK !== '0') {
      checked++;
      const full = await fullBm25Sum(pool, { entity: 'scale', terms: s.terms.map((x) => x.term), idfs: s.terms.map((x) => x.idf), k1: BM25_K1, b: BM25_B, avgdl: s.avgdl, limit: K + 50, where: q.where });
      if (sameTopK(top.hits, full, K)) equal++;
      else process.stderr.write(`MISMATCH ${JSON.stringify(q)}\n`);
    }
  }
}
for (const [kind, r] of by) {
  const f = (xs: number[], p: number) => percentile(xs, p).toFixed(1);
  console.log(`${kind.padEnd(48)} p50 ${f(r.ms, 50)} p95 ${f(r.ms, 95)} ms | heads p50 ${f(r.blocks, 50)} | postings read p50 ${f(r.read, 50)} p95 ${f(r.read, 95)} | rounds p50 ${f(r.rounds, 50)}`);
}
console.log(`exact: ${equal}/${checked}`);
await pool.end();
