/**
 * `node --conditions=source --import tsx scripts/bench/keywordTail.ts <database-url> [kind]`:
 * per query of bench:keyword's corpus (a database kept by `KDB_BENCH_REUSE=1
 * pnpm bench:keyword`), what the keyword top-k spent: time per statement kind
 * (first round, next rounds, lookups, filter), rounds, postings read,
 * candidates and lookups, and per query term its df and postings read.
 * Prints the slowest queries of the kind (default multi-term) and the totals.
 * KDB_TAIL_IMPL=<path> runs another keywordTopK (an earlier version) instead.
 */
import pg from 'pg';
import { BM25_B, BM25_K1, bm25Idf, keywordTopK as current, readStatsAndHeads, tokenize } from '@kameleondb/core';
import { keywordQueries } from './zipfCorpus.js';

const [url, kind = 'multi-term'] = process.argv.slice(2);
// KDB_TAIL_IMPL: a module exporting another keywordTopK (an earlier version, for an A/B).
const keywordTopK: typeof current = process.env.KDB_TAIL_IMPL ? ((await import(process.env.KDB_TAIL_IMPL)) as { keywordTopK: typeof current }).keywordTopK : current;
if (!url) throw new Error('usage: keywordTail.ts <database-url> [kind]');
const pool = new pg.Pool({ connectionString: url, max: 2 });
const K = 10;
type Row = { q: string; ms: number; stmt: Record<string, { n: number; ms: number; rows: number; params: number }>; rounds: number; postingsRead: number; candidates: number; lookedUp: number; perTerm: string };
const out: Row[] = [];
for (let turn = 0; turn < 2; turn++) {
  out.length = 0;
  for (const q of keywordQueries().filter((x) => x.kind.startsWith(kind))) {
    const stmt: Row['stmt'] = {};
    const spy = {
      query: async (cfg: { name?: string; text: string; values: unknown[] }) => {
        const t = performance.now();
        const r = await pool.query(cfg);
        const s = (stmt[cfg.name ?? '?'] ??= { n: 0, ms: 0, rows: 0, params: 0 });
        s.n++;
        s.ms += performance.now() - t;
        s.rows += r.rowCount ?? 0;
        s.params += Array.isArray(cfg.values[0]) ? (cfg.values[0] as unknown[]).length : 0;
        return r;
      },
    } as unknown as pg.Pool;
    const t = performance.now();
    const first = await readStatsAndHeads(spy, { entities: ['scale'], terms: [...new Set(tokenize(q.q))], k: K });
    const present = [...first.df].filter(([, d]) => d > 0).map(([term, d]) => ({ term, df: d, idf: bm25Idf(first.documents, d) }));
    const top = await keywordTopK(spy, { entities: ['scale'], terms: present, k: K, k1: BM25_K1, b: BM25_B, avgdl: first.totalLength / first.documents, firstRound: first.heads, firstRoundQuery: first.query, where: q.where });
    const ms = performance.now() - t;
    out.push({ q: q.q, ms, stmt, rounds: top.rounds, postingsRead: top.postingsRead, candidates: top.candidates, lookedUp: top.lookedUp, perTerm: present.map((p) => `${p.term}:df${p.df}:idf${p.idf.toFixed(2)}`).join(' ') });
  }
}
out.sort((a, b) => b.ms - a.ms);
for (const r of out.slice(0, 12)) {
  console.log(`${r.ms.toFixed(1)} ms  rounds ${r.rounds}  read ${r.postingsRead}  cand ${r.candidates}  lookedUp ${r.lookedUp}  [${r.perTerm}]`);
  console.log('   ' + Object.entries(r.stmt).map(([k, s]) => `${k}: ${s.n}× ${s.ms.toFixed(1)} ms ${s.rows} rows ${s.params} keys`).join(' | '));
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = out.map((r) => r.ms);
console.log(`${out.length} queries: p50 ${pct(ms, 50).toFixed(1)} p95 ${pct(ms, 95).toFixed(1)} ms; rounds p50/p95 ${pct(out.map((r) => r.rounds), 50)}/${pct(out.map((r) => r.rounds), 95)}; lookedUp p50/p95 ${pct(out.map((r) => r.lookedUp), 50)}/${pct(out.map((r) => r.lookedUp), 95)}; read p50/p95 ${pct(out.map((r) => r.postingsRead), 50)}/${pct(out.map((r) => r.postingsRead), 95)}`);
const tot: Record<string, number> = {};
for (const r of out) for (const [k, s] of Object.entries(r.stmt)) tot[k] = (tot[k] ?? 0) + s.ms;
console.log('time per statement kind (all queries): ' + Object.entries(tot).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', '));
await pool.end();
