import type pg from 'pg';
import { sealedUpTo } from '../segments/vectorSegmentStore.js';
import type { Bm25Explain, KeywordPruning, KeywordRetrieval } from './KeywordRetriever.js';
import type { VectorRetrieval, VectorRetriever } from './VectorRetriever.js';
import type { FusedHit } from './FusedHit.js';
import { RRF_K, type Fusion } from './Fusion.js';
import type { Timings } from './Timings.js';

/**
 * What a result shows with `explain`: per retriever that found it, its rank and raw
 * score, and its RRF share or (linear fusion) its normalized score and weight.
 */
export type ResultExplain = Omit<FusedHit, 'id' | 'entity' | 'score'>;

/** What a search answer shows with `explain`. */
export interface SearchExplain {
  timings_ms: Record<string, number>;
  bm25?: Bm25Explain;
  plans: { keyword?: string; vector?: string };
  window: number;
  /** The RRF constant, unless hybrid search fused linearly. */
  rrfK?: number;
  /** How hybrid search fused the rankings. */
  fusion?: Fusion;
  efSearch: number;
  keywordPruning?: KeywordPruning;
  /** The sealed segments (one HNSW scan each) and the seq above which rows were scanned exactly. */
  vectorSegments?: { sealed: { lo: string; hi: string; rows: number; indexValid: boolean }[]; hotAbove: string };
}

export function resultExplain(f: FusedHit): ResultExplain {
  return { ...(f.keyword ? { keyword: f.keyword } : {}), ...(f.vector ? { vector: f.vector } : {}) };
}

export interface ExplainRequest {
  /** Runs the keyword plans and reads the session's ef_search. Required. */
  pool: pg.Pool;
  /** Runs the vector plan under the settings its statement ran with. Required. */
  vectorRetriever: VectorRetriever;
  /** The keyword retrieval of the search. Default none (the mode did not use it). */
  keyword?: KeywordRetrieval | undefined;
  /** The vector retrieval of the search. Default none (the mode did not use it). */
  vector?: VectorRetrieval | undefined;
  /** Whether the search had a `where` filter. Required. */
  filtered: boolean;
  /** Hits taken from each retriever. Required. */
  k: number;
  /** The hybrid window the search used. Required. */
  window: number;
  /** The fusion of a hybrid search. Default none (another mode). */
  fusion?: Fusion | undefined;
  /** The steps' durations so far. Required. */
  timings: Timings;
}

type Statement = { text: string; values: unknown[] };

/**
 * The answer's explain block: the statistics and pruning of the keyword
 * retriever, the segments of the vector retriever, and the plans of their
 * statements, each run again under EXPLAIN ANALYZE.
 */
export async function explainSearch(r: ExplainRequest): Promise<SearchExplain> {
  const planRows = (rows: { 'QUERY PLAN': string }[]) => rows.map((row) => row['QUERY PLAN']).join('\n');
  const analyze = (q: Statement): Statement => ({ text: `EXPLAIN (ANALYZE, BUFFERS) ${q.text}`, values: q.values });
  const keywordPlans = async (qs: readonly Statement[]) =>
    qs.length
      ? (await Promise.all(qs.map(async (q) => planRows((await r.pool.query<{ 'QUERY PLAN': string }>(analyze(q))).rows)))).join('\n-- next statement --\n')
      : undefined;
  const vectorPlan = async (q: Statement | undefined) =>
    q ? planRows(await r.vectorRetriever.run<{ 'QUERY PLAN': string }>(analyze(q), r.filtered, r.k)) : undefined;
  const [kp, vp] = await Promise.all([keywordPlans(r.keyword?.queries ?? []), vectorPlan(r.vector?.query)]);
  const ef = await r.pool.query<{ ef: string }>("SELECT current_setting('hnsw.ef_search') AS ef").then((x) => Number(x.rows[0]?.ef ?? 0), () => 0);
  // A vector statement asking more rows than the session's ef_search ran with ef_search raised to k.
  const efUsed = r.vector ? Math.max(ef, r.k) : ef;
  const bm25 = r.keyword?.bm25;
  const keywordPruning = r.keyword?.pruning;
  return {
    timings_ms: r.timings.ms,
    ...(bm25 ? { bm25 } : {}),
    ...(keywordPruning ? { keywordPruning } : {}),
    plans: { ...(kp ? { keyword: kp } : {}), ...(vp ? { vector: vp } : {}) },
    window: r.window,
    ...(r.fusion?.method === 'linear' ? {} : { rrfK: r.fusion?.k ?? RRF_K }),
    ...(r.fusion ? { fusion: r.fusion } : {}),
    efSearch: efUsed,
    ...(r.vector ? { vectorSegments: { sealed: r.vector.segments.map((x) => ({ lo: x.lo, hi: x.hi, rows: x.rows, indexValid: x.indexValid })), hotAbove: sealedUpTo(r.vector.segments) } } : {}),
  };
}
