import { describe, expect, it } from 'vitest';
import { LatencyHistogram, SearchMetrics } from '@kameleondb/core';

describe('search metrics: quantiles and the 5-minute window', () => {
  it('quantiles are within 2% of the nearest-rank value, over any spread', () => {
    const h = new LatencyHistogram();
    const values = Array.from({ length: 10_000 }, (_, i) => 0.05 * 1.001 ** i); // 0.05 ms to ~1 s
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
      expect(Math.abs(h.quantile(q)! - exact) / exact).toBeLessThan(0.02);
    }
    expect(new LatencyHistogram().quantiles()).toEqual({ count: 0, p50: null, p95: null, p99: null });
  });

  it('counts per mode, retriever and cache hit; the window forgets what is older than 5 minutes, since start does not', () => {
    let now = Date.UTC(2026, 0, 1);
    const m = new SearchMetrics(() => now);
    m.record({ mode: 'hybrid', ms: 100, cached: false, keywordMs: 40, vectorMs: 60 });
    m.record({ mode: 'hybrid', ms: 1, cached: true });
    now += 4 * 60_000;
    m.record({ mode: 'keyword', ms: 10, cached: false, keywordMs: 8 });
    let r = m.report();
    expect(r.last5m).toMatchObject({ searches: 3, cacheHits: 1, cacheHitRate: 0.3333 });
    expect(r.last5m.byMode.hybrid.count).toBe(2);
    expect(r.last5m.byRetriever).toMatchObject({ keyword: { count: 2 }, vector: { count: 1 } });
    now += 2 * 60_000; // the first two are now 6 minutes old
    r = m.report();
    expect(r.last5m).toMatchObject({ searches: 1, cacheHits: 0, byMode: { hybrid: { count: 0 }, keyword: { count: 1 } } });
    expect(r.last5m.latencyMs.p50).toBeCloseTo(10, 0);
    expect(r.sinceStart).toMatchObject({ searches: 3, cacheHits: 1, byMode: { hybrid: { count: 2 } } });
    now += 10 * 60_000;
    expect(m.report().last5m).toMatchObject({ searches: 0, cacheHitRate: null, latencyMs: { count: 0, p50: null } });
  });
});
