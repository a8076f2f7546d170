import type { HotSegment, VectorSegment } from './vectorSegmentStore.js';

export interface SegmentPolicy {
  /** Seal the hot segment once it holds this many vectors. */
  sealRows: number;
  /** Merge this many adjacent segments of one size class into one. */
  mergeFactor: number;
  /** Merges wait for a quiet moment unless there are more segments than this. */
  maxSegments: number;
}

export type SegmentWork =
  | { kind: 'seal'; lo: string; hi: string; rows: number }
  | { kind: 'merge'; lo: string; hi: string; rows: number; segments: VectorSegment[] };

/** Size class: 0 below `sealRows`, then one class per factor of `mergeFactor`. */
export function segmentLevel(rows: number, policy: SegmentPolicy): number {
  if (rows < policy.sealRows) return 0;
  return 1 + Math.floor(Math.log(rows / policy.sealRows) / Math.log(policy.mergeFactor) + 1e-9);
}

/**
 * What the segment manager does next (one build at a time), in order:
 * 1. seal the hot segment when it is full, or when writes have gone quiet
 *    (`idle`) and it holds anything;
 * 2. merge the first run of `mergeFactor` adjacent segments of one size
 *    class (the smallest class first), only when idle unless the segment
 *    count is over `maxSegments` (a merge rebuilds a graph over all its rows:
 *    CPU that an ingest in progress would rather have).
 * A log-structured merge: every vector is rebuilt O(log_f(N / sealRows)) times.
 */
export function planSegmentWork(segments: readonly VectorSegment[], hot: HotSegment, policy: SegmentPolicy, idle: boolean): SegmentWork | null {
  const sealedHi = segments.length ? BigInt(segments[segments.length - 1]!.hi) : 0n;
  if (hot.hi !== null && hot.rows > 0 && (hot.rows >= policy.sealRows || idle)) {
    return { kind: 'seal', lo: String(sealedHi + 1n), hi: hot.hi, rows: hot.rows };
  }
  if (!idle && segments.length <= policy.maxSegments) return null;
  let best: { level: number; start: number } | null = null;
  for (let i = 0; i + policy.mergeFactor <= segments.length; i++) {
    const level = segmentLevel(segments[i]!.rows, policy);
    const run = segments.slice(i, i + policy.mergeFactor);
    if (run.every((s) => segmentLevel(s.rows, policy) === level) && (!best || level < best.level)) best = { level, start: i };
  }
  if (!best) return null;
  const run = segments.slice(best.start, best.start + policy.mergeFactor);
  return { kind: 'merge', lo: run[0]!.lo, hi: run[run.length - 1]!.hi, rows: run.reduce((n, s) => n + s.rows, 0), segments: run };
}
