import type { VectorSeq } from '../store/searchRowStore.js';
import type { HotSegment, VectorSegment } from './vectorSegmentStore.js';

export interface SegmentPolicy {
  /** Seal the hot segment once it holds this many vectors (while no ingest backlog waits). */
  sealRows: number;
  /** Seal at this many hot vectors even while an ingest backlog waits. */
  maxHotRows: number;
  /** Merge this many adjacent segments of one size class into one. */
  mergeFactor: number;
  /** Merges wait for a quiet moment unless there are more segments than this. */
  maxSegments: number;
  /**
   * No merge makes a segment of more rows than this (default: no bound). The
   * segment manager sets it to the rows whose graph fits the build's memory
   * (hnswRowsInMemory): a bigger build spills to disk and takes many times
   * longer, so past it one more graph to scan per search costs less.
   */
  maxMergeRows?: number;
}

export type SegmentWork =
  | { kind: 'seal'; lo: VectorSeq; hi: VectorSeq; rows: number }
  | { kind: 'merge'; lo: VectorSeq; hi: VectorSeq; rows: number; segments: VectorSegment[] };

/** Size class: 0 below `sealRows`, then one class per factor of `mergeFactor`. */
export function segmentLevel(rows: number, policy: SegmentPolicy): number {
  if (rows < policy.sealRows) return 0;
  return 1 + Math.floor(Math.log(rows / policy.sealRows) / Math.log(policy.mergeFactor) + 1e-9);
}

export interface SegmentLoad {
  /** No vector written for a while. */
  idle: boolean;
  /** Embed jobs wait or run: an ingest is under way, and a build would take CPU from it. */
  busy: boolean;
}

/**
 * What the segment manager does next (one build at a time), in order:
 * 1. seal the hot segment when writes have gone quiet (`idle`) and it holds
 *    anything; when it holds `sealRows` and no ingest backlog waits; or when
 *    it holds `maxHotRows` whatever waits (vectors of a bulk load are
 *    searchable at once by the exact scan; building their graph after the
 *    load costs less than building it in pieces during it);
 * 2. merge the first run of `mergeFactor` adjacent segments of one size
 *    class (the smallest class first), only when idle unless the segment
 *    count is over `maxSegments` (a merge rebuilds a graph over all its rows:
 *    CPU that an ingest in progress would rather have);
 * 3. when idle, fold the newest segments into their older neighbours while
 *    each older one is at most `mergeFactor` times the newer ones together.
 * A log-structured merge: every vector is rebuilt O(log_f(N / sealRows)) times.
 * No merge goes past `maxMergeRows`: a search then scans about
 * N / maxMergeRows full segments plus the O(log) smaller ones.
 */
export function planSegmentWork(segments: readonly VectorSegment[], hot: HotSegment, policy: SegmentPolicy, load: SegmentLoad): SegmentWork | null {
  const { idle, busy } = load;
  const sealedHi = segments.length ? BigInt(segments[segments.length - 1]!.hi) : 0n;
  if (hot.hi !== null && hot.rows > 0 && (idle || (hot.rows >= policy.sealRows && !busy) || hot.rows >= policy.maxHotRows)) {
    return { kind: 'seal', lo: String(sealedHi + 1n), hi: hot.hi, rows: hot.rows };
  }
  if ((!idle || busy) && segments.length <= policy.maxSegments) return null;
  const cap = policy.maxMergeRows ?? Infinity;
  const rowsOf = (run: readonly VectorSegment[]) => run.reduce((n, s) => n + s.rows, 0);
  let best: { level: number; start: number } | null = null;
  for (let i = 0; i + policy.mergeFactor <= segments.length; i++) {
    const level = segmentLevel(segments[i]!.rows, policy);
    const run = segments.slice(i, i + policy.mergeFactor);
    if (run.every((s) => segmentLevel(s.rows, policy) === level) && rowsOf(run) <= cap && (!best || level < best.level)) best = { level, start: i };
  }
  if (!best) {
    // Quiet: fold the newest segments into the oldest one not more than mergeFactor
    // times their size (one graph to search instead of several; each vector is
    // rebuilt O(log) times over its life, as the older segment is always outgrown).
    if (!idle || busy || segments.length < 2) return null;
    let start = segments.length - 1;
    let newer = segments[start]!.rows;
    while (start > 0 && segments[start - 1]!.rows <= policy.mergeFactor * newer && newer + segments[start - 1]!.rows <= cap) {
      start--;
      newer += segments[start]!.rows;
    }
    if (start === segments.length - 1) return null;
    const tail = segments.slice(start);
    return { kind: 'merge', lo: tail[0]!.lo, hi: tail[tail.length - 1]!.hi, rows: rowsOf(tail), segments: tail };
  }
  const run = segments.slice(best.start, best.start + policy.mergeFactor);
  return { kind: 'merge', lo: run[0]!.lo, hi: run[run.length - 1]!.hi, rows: rowsOf(run), segments: run };
}
