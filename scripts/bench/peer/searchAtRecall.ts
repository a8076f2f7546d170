/**
 * Vector top-10 at equal recall: ef_search is stepped up until recall@10
 * against an exact scan reaches the target, then latency is measured at that
 * setting. The same procedure for both systems; each supplies how to set
 * ef_search, how to search, and the exact 10th distance of a query on its
 * own stored vectors.
 */
import { percentile } from '../harness.js';

// From below pgvector's default (40): the lowest setting that reaches the target is the one compared.
export const EF_STEPS = [10, 20, 40, 64, 100, 160, 250, 400, 640, 1000] as const;
export const TARGET_RECALL = 0.95;

export interface SearchAtRecall {
  /** Every setting tried, with its recall. */
  steps: { ef: number; recall: number }[];
  /** The first setting that reached the target; null when none did (the bench then fails). */
  ef: number | null;
  recall: number;
  p50: number;
  p95: number;
  /** The server's own time (our API's took_ms), when the system reports one. */
  serverP50?: number;
  serverP95?: number;
}

export interface SearchSide {
  setEf(ef: number): Promise<void>;
  /** Cosine distances of the top 10, nearest first; `serverMs` when the system reports its own time. */
  search(q: string, i: number): Promise<{ distances: number[]; serverMs?: number }>;
  /** Distance of the exact 10th neighbour of query i. */
  exactKth(q: string, i: number): Promise<number>;
}

export async function searchAtRecall(side: SearchSide, queries: readonly string[], recallQueries: number, log: (s: string) => void): Promise<SearchAtRecall> {
  const kth: number[] = [];
  for (let i = 0; i < recallQueries; i++) kth.push(await side.exactKth(queries[i]!, i));
  const steps: { ef: number; recall: number }[] = [];
  for (const ef of EF_STEPS) {
    await side.setEf(ef);
    // Warm-up over every query: prepared statements, caches, the pages of the graph.
    for (let i = 0; i < queries.length; i++) await side.search(queries[i]!, i);
    let hits = 0;
    for (let i = 0; i < recallQueries; i++) {
      const { distances } = await side.search(queries[i]!, i);
      // Tie-aware: an answer as near as the exact 10th counts.
      hits += Math.min(10, distances.filter((d) => d <= kth[i]! + 1e-6).length);
    }
    const recall = hits / (recallQueries * 10);
    steps.push({ ef, recall });
    log(`ef_search ${ef}: recall@10 ${recall.toFixed(3)}`);
    if (recall < TARGET_RECALL) continue;
    const lat: number[] = [];
    const server: number[] = [];
    for (let i = 0; i < queries.length; i++) {
      const t = performance.now();
      const { serverMs } = await side.search(queries[i]!, i);
      lat.push(performance.now() - t);
      if (serverMs !== undefined) server.push(serverMs);
    }
    return {
      steps,
      ef,
      recall,
      p50: percentile(lat, 50),
      p95: percentile(lat, 95),
      ...(server.length ? { serverP50: percentile(server, 50), serverP95: percentile(server, 95) } : {}),
    };
  }
  return { steps, ef: null, recall: steps[steps.length - 1]!.recall, p50: NaN, p95: NaN };
}

/** The exact 10th cosine distance to `vector` over `table` (index scans off, so it is a full scan). */
export async function exactKthDistance(c: { query: (sql: string, values?: unknown[]) => Promise<{ rows: any[] }> }, table: string, vector: string): Promise<number> {
  await c.query('BEGIN');
  try {
    await c.query('SET LOCAL enable_indexscan = off');
    await c.query('SET LOCAL enable_bitmapscan = off');
    const { rows } = await c.query(`SELECT embedding <=> $1::vector AS d FROM ${table} WHERE embedding IS NOT NULL ORDER BY 1 LIMIT 10`, [vector]);
    return Number(rows[rows.length - 1]!.d);
  } finally {
    await c.query('COMMIT');
  }
}
