/**
 * Recall@10 of the vector union at the ef_search `auto` picks (efSearchFor the
 * largest segment) and at other settings, on a database bench:scale kept
 * (KDB_BENCH_KEEP=1): the figures behind docs/decisions/adaptive-ef-search.md.
 *
 *   node --conditions=source --import tsx scripts/bench/measureAutoEf.ts <database-url> <records> [ef,ef,…]
 *
 * Its 50 topic queries are bench:scale's recall queries; each recall is
 * tie-aware (an answer as near as the exact 10th counts), then p50/p95 of the
 * raw statement over 2 passes.
 */
import pg from 'pg';
import { efSearchFor, listVectorSegments } from '@kameleondb/core';
import { percentile } from './harness.js';
import { rawStatements } from './scale/rawStatements.js';
import { topicQueries, topicsOf } from './zipfCorpus.js';

const [url, records, list] = process.argv.slice(2);
if (!url || !records) throw new Error('usage: measureAutoEf.ts <database-url> <records> [ef,ef,…]');
const rs = await rawStatements(url, 'scale');
const pool = new pg.Pool({ connectionString: url, max: 1 });
const segments = await listVectorSegments(pool, 1);
await pool.end();
const largest = segments.reduce((m, s) => Math.max(m, s.rows), 0);
const auto = efSearchFor(largest);
const efs = [...new Set([auto, ...(list ? list.split(',').map(Number) : [])])].sort((a, b) => a - b);
console.log(`segments (rows): ${segments.map((s) => s.rows).join(', ')}; largest ${largest}: auto ef_search ${auto}`);
// bench:scale's recall queries: the first 50 of its topic queries (3 turns of --queries 40).
const queries = topicQueries(120, topicsOf(Number(records))).slice(0, 50);
const kths: number[] = [];
for (const q of queries) kths.push((await rs.exactDistances(q)).at(-1)!);
for (const ef of efs) {
  let hits = 0;
  const times: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < queries.length; i++) {
      const t = performance.now();
      const d = await rs.vectorDistancesAt(queries[i]!, ef);
      if (pass > 0) times.push(performance.now() - t);
      if (pass === 0) hits += d.filter((x) => x <= kths[i]! + 1e-9).length;
    }
  }
  console.log(`ef_search ${ef}${ef === auto ? ' (auto)' : ''}: recall@10 ${(hits / (queries.length * 10)).toFixed(3)}, raw p50 / p95 ${percentile(times, 50).toFixed(2)} / ${percentile(times, 95).toFixed(2)} ms`);
}
await rs.close();
