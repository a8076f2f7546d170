import { describe, expect, it } from 'vitest';
import { percentiles } from '../src/commands/searchBenchmark.js';

describe('percentiles (search --benchmark)', () => {
  it('are nearest-rank: of 1..100 ms, p50 50, p95 95, p99 99', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(values)).toEqual({ p50: 50, p95: 95, p99: 99, min: 1, max: 100, mean: 50.5 });
  });

  it('of one run are that run, and round to 0.01 ms', () => {
    expect(percentiles([3.14159])).toEqual({ p50: 3.14, p95: 3.14, p99: 3.14, min: 3.14, max: 3.14, mean: 3.14 });
    expect(percentiles([1, 2, 3, 40]).p95).toBe(40);
  });
});
