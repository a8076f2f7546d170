import { performance } from 'node:perf_hooks';
import type { KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';
import { searchRequest, type SearchOptions } from './search.js';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export interface Benchmark {
  q: string;
  entity: string | null;
  mode: string;
  runs: number;
  /** Runs answered from the result cache (all but the first, unless --no-cache). */
  cached: number;
  results: number;
  /** Wall time of each call as the client saw it (network, JSON), in ms. */
  client_ms: Percentiles;
  /** The server's own took_ms of each answer. */
  took_ms: Percentiles;
}

/** Nearest-rank percentiles (the value below which p% of the runs fall), rounded to 0.01 ms. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  const r = (v: number) => Math.round(v * 100) / 100;
  return { p50: r(at(50)), p95: r(at(95)), p99: r(at(99)), min: r(sorted[0]!), max: r(sorted[sorted.length - 1]!), mean: r(sorted.reduce((a, b) => a + b, 0) / sorted.length) };
}

/** `search QUERY --benchmark [--runs 100]`: the same search `runs` times, one after another. */
export async function searchBenchmark(api: KameleonClient, args: string[], opts: SearchOptions & { runs: number }): Promise<CommandResult<Benchmark>> {
  const req = searchRequest(args, opts);
  const client: number[] = [];
  const took: number[] = [];
  let last = { count: 0, mode: req.mode ?? 'hybrid' };
  let cached = 0;
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    const answer = await api.search(req);
    client.push(performance.now() - t0);
    took.push(answer.took_ms);
    if (answer.cached) cached++;
    last = answer;
  }
  const data: Benchmark = { q: req.q, entity: req.entity ?? null, mode: last.mode, runs: opts.runs, cached, results: last.count, client_ms: percentiles(client), took_ms: percentiles(took) };
  const row = (name: string, p: Percentiles) => `${name.padEnd(10)} p50 ${p.p50} ms  p95 ${p.p95} ms  p99 ${p.p99} ms  (min ${p.min}, max ${p.max}, mean ${p.mean})`;
  return {
    data,
    human: (d) => [`${d.runs} runs of "${d.q}"${d.entity ? ` in ${d.entity}` : ''} (${d.mode}, ${d.results} results, ${d.cached} from the result cache; --no-cache to measure the search itself)`, row('client', d.client_ms), row('took_ms', d.took_ms)].join('\n'),
  };
}
