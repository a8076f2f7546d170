/** Smallest latency told apart, in ms (1 µs); anything smaller counts as this. */
const MIN_MS = 0.001;
/** Bucket growth: each bucket is 4% wider than the one before, so a quantile is within 2% of the true value. */
const GROWTH = 1.04;
/** Buckets up to 10 minutes; anything longer counts in the last one. */
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / Math.log(GROWTH)) + 1;

export interface LatencyQuantiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Latencies in fixed log-spaced buckets (a few KB whatever the count), so
 * quantiles over any number of searches cost constant memory and two
 * histograms merge by adding counts.
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;

  record(ms: number): void {
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / Math.log(GROWTH)));
    this.counts[i]!++;
    this.count++;
  }

  /** Adds `other`'s counts to this one. */
  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
  }

  /** The nearest-rank quantile q (0 < q ≤ 1), as its bucket's geometric middle rounded to 0.001 ms; null when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.round((i === 0 ? MIN_MS : MIN_MS * GROWTH ** (i - 0.5)) * 1000) / 1000;
    }
    return null;
  }

  quantiles(): LatencyQuantiles {
    return { count: this.count, p50: this.quantile(0.5), p95: this.quantile(0.95), p99: this.quantile(0.99) };
  }
}
