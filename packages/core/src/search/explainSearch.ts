import type pg from 'pg';
import { segmentGraphs, type SegmentGraph } from '../segments/vectorSegmentStore.js';
import { vectorScanTimes, type VectorScanTimes } from './vectorScanTimes.js';
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
  /**
   * Each step's duration in this search. With the vector retriever, from
   * the EXPLAIN ANALYZE re-run of its statement as well: `vector_scan_segments`
   * (the sealed segments' HNSW scans together), `vector_scan_hot` (the exact
   * scan of the hot range), `vector_execution` and `vector_planning` (the
   * server's totals); the re-run's figures are of a second execution, not
   * parts of `vector`.
   */
  timings_ms: Record<string, number>;
  bm25?: Bm25Explain;
  plans: { keyword?: string; vector?: string };
  window: number;
  /** The RRF constant, unless hybrid search fused linearly. */
  rrfK?: number;
  /** How hybrid search fused the rankings. */
  fusion?: Fusion;
  /** hnsw.ef_search of the vector statement (the configured one or auto's for the segments searched, raised to k where k is more). */
  efSearch: number;
  keywordPruning?: KeywordPruning;
  /**
   * The sealed segments scanned (one HNSW scan each: its graph's build
   * settings and, from the re-run, its scan's ms), those skipped (holding no
   * vector of the searched entities), and the seq above which rows were
   * scanned exactly (hotScanMs). The scan times are absent when the plan did not have
   * one branch per range.
   */
  vectorSegments?: {
    sealed: ({ lo: string; hi: string; rows: number; indexValid: boolean; scan: 'hnsw' | 'exact'; scanMs?: number } & SegmentGraph)[];
    /** Sealed segments not scanned: they hold no vector of the searched entities. */
    skipped: number;
    hotAbove: string;
    hotScanMs?: number;
  };
}

export function resultExplain(f: FusedHit): ResultExplain {
  return { ...(f.keyword ? { keyword: f.keyword } : {}), ...(f.vector ? { vector: f.vector } : {}) };
}

export interface ExplainRequest {
  /** Runs the keyword plans (and, in keyword mode, reads the session's ef_search). Required. */
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
  // Re-run at the ef_search the search ran with (a configured one, or auto's for its segments).
  const ef = r.vector?.efSearch;
  const vectorPlan = async (q: Statement | undefined) =>
    q ? planRows(await r.vectorRetriever.run<{ 'QUERY PLAN': string }>(analyze(q), r.filtered, r.k, undefined, undefined, ef)) : undefined;
  // The JSON plan after the text one, not beside it: two scans at once would each time the other's competition.
  const vectorPlans = async (q: Statement | undefined, branches: number): Promise<[string | undefined, VectorScanTimes | undefined]> => {
    if (!q) return [undefined, undefined];
    const text = await vectorPlan(q);
    const json = await r.vectorRetriever.run<{ 'QUERY PLAN': unknown }>({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${q.text}`, values: q.values }, r.filtered, r.k, undefined, undefined, ef);
    return [text, vectorScanTimes(json[0]?.['QUERY PLAN'], branches)];
  };
  const segments = r.vector?.segments ?? [];
  const [kp, [vp, scans], graphs] = await Promise.all([
    keywordPlans(r.keyword?.queries ?? []),
    vectorPlans(r.vector?.query, segments.length + 1),
    segments.length ? segmentGraphs(r.pool, segments.map((s) => s.indexName)) : new Map<string, SegmentGraph>(),
  ]);
  if (scans) {
    const sealedMs = scans.branchMs.slice(0, segments.length).reduce((a, b) => a + b, 0);
    Object.assign(r.timings.ms, {
      vector_scan_segments: Math.round(sealedMs * 1000) / 1000,
      vector_scan_hot: scans.branchMs[segments.length]!,
      vector_execution: scans.executionMs,
      vector_planning: scans.planningMs,
    });
  }
  // Without a vector retrieval (keyword mode) no HNSW scan ran: the session's setting is what one would use.
  // A vector statement asking more rows than its ef_search ran with ef_search raised to k.
  const efUsed = ef !== undefined ? Math.max(ef, r.k) : await r.pool.query<{ ef: string }>("SELECT current_setting('hnsw.ef_search') AS ef").then((x) => Number(x.rows[0]?.ef ?? 0), () => 0);
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
    ...(r.vector
      ? {
          vectorSegments: {
            sealed: segments.map((x, i) => ({
              lo: x.lo,
              hi: x.hi,
              rows: x.rows,
              indexValid: x.indexValid,
              scan: r.vector!.exact.has(x.indexName) ? ('exact' as const) : ('hnsw' as const),
              ...(graphs.get(x.indexName) ?? { m: null, efConstruction: null }),
              ...(scans ? { scanMs: scans.branchMs[i]! } : {}),
            })),
            skipped: r.vector.skippedSegments,
            hotAbove: r.vector.hotAbove,
            ...(scans ? { hotScanMs: scans.branchMs[segments.length]! } : {}),
          },
        }
      : {}),
  };
}
