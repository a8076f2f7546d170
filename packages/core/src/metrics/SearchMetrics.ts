import type { SearchObservation } from '../search/SearchObservation.js';
import { LatencyHistogram, type LatencyQuantiles } from './LatencyHistogram.js';

const MODES = ['hybrid', 'vector', 'keyword'] as const;
const RETRIEVERS = ['keyword', 'vector'] as const;

/** The recent window the metrics report besides "since start", in ms (5 minutes). */
export const SEARCH_METRICS_WINDOW_MS = 5 * 60_000;
/** The window is a ring of this many slices; the oldest is dropped whole, so the window spans 4.5 to 5 minutes. */
const SLICES = 10;
const SLICE_MS = SEARCH_METRICS_WINDOW_MS / SLICES;

class Tally {
  searches = 0;
  cacheHits = 0;
  readonly all = new LatencyHistogram();
  readonly byMode = new Map(MODES.map((m) => [m, new LatencyHistogram()]));
  readonly byRetriever = new Map(RETRIEVERS.map((r) => [r, new LatencyHistogram()]));

  record(o: SearchObservation): void {
    this.searches++;
    if (o.cached) this.cacheHits++;
    this.all.record(o.ms);
    this.byMode.get(o.mode)?.record(o.ms);
    if (o.keywordMs !== undefined) this.byRetriever.get('keyword')!.record(o.keywordMs);
    if (o.vectorMs !== undefined) this.byRetriever.get('vector')!.record(o.vectorMs);
  }

  add(other: Tally): void {
    this.searches += other.searches;
    this.cacheHits += other.cacheHits;
    this.all.add(other.all);
    for (const [m, h] of this.byMode) h.add(other.byMode.get(m)!);
    for (const [r, h] of this.byRetriever) h.add(other.byRetriever.get(r)!);
  }

  report(): SearchMetricsPeriod {
    return {
      searches: this.searches,
      cacheHits: this.cacheHits,
      cacheHitRate: this.searches ? Math.round((this.cacheHits / this.searches) * 10_000) / 10_000 : null,
      latencyMs: this.all.quantiles(),
      byMode: Object.fromEntries([...this.byMode].map(([m, h]) => [m, h.quantiles()])) as Record<(typeof MODES)[number], LatencyQuantiles>,
      byRetriever: Object.fromEntries([...this.byRetriever].map(([r, h]) => [r, h.quantiles()])) as Record<(typeof RETRIEVERS)[number], LatencyQuantiles>,
    };
  }
}

export interface SearchMetricsPeriod {
  searches: number;
  /** Searches answered from the result cache. */
  cacheHits: number;
  /** cacheHits / searches, null before the first search. */
  cacheHitRate: number | null;
  /** Whole searches (cached ones too), in ms. */
  latencyMs: LatencyQuantiles;
  byMode: Record<(typeof MODES)[number], LatencyQuantiles>;
  /** Each retriever's own time, when it ran (a cached answer runs none). */
  byRetriever: Record<(typeof RETRIEVERS)[number], LatencyQuantiles>;
}

export interface SearchMetricsReport {
  /** When this process started counting. */
  since: string;
  sinceStart: SearchMetricsPeriod;
  /** The last 5 minutes (SEARCH_METRICS_WINDOW_MS; in 30 s slices). */
  last5m: SearchMetricsPeriod;
}

/**
 * The search counts and latency quantiles of one API process, since start and
 * over the last 5 minutes. Memory is bounded: fixed-size histograms, one set
 * since start and one per 30 s slice of the window.
 */
export class SearchMetrics {
  private readonly started: number;
  private readonly total = new Tally();
  /** The window's slices, by slice number (time / SLICE_MS). */
  private readonly ring = new Map<number, Tally>();

  constructor(private readonly now: () => number = Date.now) {
    this.started = now();
  }

  record(o: SearchObservation): void {
    this.total.record(o);
    const slice = Math.floor(this.now() / SLICE_MS);
    let t = this.ring.get(slice);
    if (!t) {
      this.ring.set(slice, (t = new Tally()));
      this.prune(slice);
    }
    t.record(o);
  }

  private prune(current: number): void {
    for (const s of this.ring.keys()) if (s <= current - SLICES) this.ring.delete(s);
  }

  report(): SearchMetricsReport {
    const current = Math.floor(this.now() / SLICE_MS);
    this.prune(current);
    const recent = new Tally();
    for (const t of this.ring.values()) recent.add(t);
    return { since: new Date(this.started).toISOString(), sinceStart: this.total.report(), last5m: recent.report() };
  }
}
