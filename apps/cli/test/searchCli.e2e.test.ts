import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { runCli } from './runCli.js';

const KEY = 'cli-search-key-0123456789';
const WORDS = ['engine', 'brake', 'wheel', 'gearbox', 'clutch', 'battery', 'window', 'mirror', 'seat', 'horn'];

interface Answer {
  results: { id: string; score: number }[];
  cached: boolean;
  explain?: { rrfK?: number; fusion?: Record<string, unknown> };
}

describe('kameleondb search: fusion flags, --no-cache and search metrics', () => {
  let p: Pipeline;
  const cli = (args: string[]) => runCli(args, { KDB_API_URL: p.api.url, KDB_API_KEY: KEY });
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json']);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    return JSON.parse(r.stdout) as Answer;
  };
  const ids = (a: Answer) => a.results.map((r) => r.id);

  beforeAll(async () => {
    // No segment seal during the tests: a seal moves every entity's result version, so a
    // repeated search that happened to straddle one would be a miss (it failed so in CI).
    p = await startPipeline({ workers: 1, env: { KDB_API_KEY: KEY, KDB_SEGMENT_IDLE: '1h' } });
    await p.call('POST', '/v1/entities', { name: 'parts', fields: { title: 'text' }, embedFields: ['title'] });
    // Texts repeat the query words unevenly, so that BM25 and the (hash) embedding rank them differently.
    const parts = Array.from({ length: 60 }, (_, i) => ({
      title: [WORDS[i % 10], WORDS[(i * 3) % 10], WORDS[(i * 7) % 10], ...Array.from({ length: i % 4 }, () => WORDS[i % 3]), `note${i}`].join(' '),
    }));
    expect((await p.call('POST', '/v1/entities/parts/records?wait=true', parts)).body.counts.ready).toBe(60);
  });
  afterAll(() => p.close());

  it('--fusion linear --weights 1,0 orders as keyword alone and 0,1 as vector alone; --rrf-k and --normalization reach the API', async () => {
    const q = ['search', 'parts', 'engine brake wheel', '-n', '12'];
    const keyword = await json([...q, '--mode', 'keyword']);
    const vector = await json([...q, '--mode', 'vector']);
    expect(ids(keyword)).not.toEqual(ids(vector));
    expect(ids(await json([...q, '--fusion', 'linear', '--weights', '1,0']))).toEqual(ids(keyword));
    expect(ids(await json([...q, '--fusion', 'linear', '--weights', '0,1', '--normalization', 'l2']))).toEqual(ids(vector));
    const z = await json([...q, '--fusion', 'linear', '--weights', '0.3,0.7', '--normalization', 'zscore', '--explain']);
    expect(z.explain!.fusion).toEqual({ method: 'linear', weights: { keyword: 0.3, vector: 0.7 }, normalization: 'zscore' });
    const k1 = await json([...q, '--rrf-k', '1', '--explain']);
    expect(k1.explain).toMatchObject({ rrfK: 1, fusion: { method: 'rrf', k: 1 } });
    expect(k1.results[0]!.score).toBeGreaterThan(1 / 61 + 1 / 62);
  });

  it('a repeated search is cached, --no-cache is not, and the table says so', async () => {
    const q = ['search', 'parts', 'clutch battery'];
    await json(q);
    expect((await json(q)).cached).toBe(true);
    expect((await json([...q, '--no-cache'])).cached).toBe(false);
    expect((await cli(q)).stdout).toMatch(/results, hybrid, [\d.]+ ms, space \S+, cached$/m);
    expect((await cli([...q, '--no-cache'])).stdout).not.toMatch(/cached/);
  });

  it('refuses bad fusion flags, naming the flag and what is allowed', async () => {
    const q = ['search', 'parts', 'engine'];
    const fusion = await cli([...q, '--fusion', 'sum']);
    expect(fusion.code).toBe(2);
    expect(fusion.stderr).toMatch(/--fusion.*Allowed choices are rrf, linear/s);
    const weights = await cli([...q, '--fusion', 'linear', '--weights', '1']);
    expect(weights.code).toBe(2);
    expect(weights.stderr).toMatch(/--weights.*two non-negative numbers KEYWORD,VECTOR/s);
    const zero = await cli([...q, '--fusion', 'linear', '--weights', '0,0']);
    expect(zero.code).toBe(2);
    const k = await cli([...q, '--rrf-k', '0']);
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/--rrf-k.*1 to 1000/s);
    // The API's rule: weights only with linear fusion.
    const mismatch = await cli([...q, '--weights', '0.3,0.7']);
    expect(mismatch.code).not.toBe(0);
    expect(mismatch.stderr).toMatch(/weights applies only with fusion=linear/);
    const normalization = await cli([...q, '--normalization', 'max']);
    expect(normalization.code).toBe(2);
    expect(normalization.stderr).toMatch(/Allowed choices are minmax, l2, zscore/);
  });

  it('search metrics reports the process\'s searches and hit rate, and moves as searches happen; with -e it searches for the word', async () => {
    const before = JSON.parse((await cli(['search', 'metrics', '--json'])).stdout) as { sinceStart: { searches: number; cacheHits: number }; last5m: { searches: number }; resultCache: { enabled: boolean } };
    expect(before.resultCache.enabled).toBe(true);
    await json(['search', 'parts', 'seat horn', '--mode', 'keyword']);
    await json(['search', 'parts', 'seat horn', '--mode', 'keyword']);
    const after = JSON.parse((await cli(['search', 'metrics', '--json'])).stdout) as typeof before;
    expect(after.sinceStart.searches - before.sinceStart.searches).toBe(2);
    expect(after.sinceStart.cacheHits - before.sinceStart.cacheHits).toBe(1);
    expect(after.last5m.searches - before.last5m.searches).toBe(2);
    const human = await cli(['search', 'metrics']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^since \S+: \d+ searches, \d+ from the result cache \(hit rate [\d.]+%\)$/m);
    expect(human.stdout).toMatch(/^last 5 minutes: /m);
    expect(human.stdout).toMatch(/^mode keyword\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
    expect(human.stdout).toMatch(/^retriever vector\s+\d+/m);
    const word = await json(['search', 'metrics', '-e', 'parts']);
    expect(word.cached).toBe(false);
    expect(word.results.length).toBeGreaterThan(0); // vector neighbours of the word "metrics"
    expect((await json(['search', 'metrics', '-e', 'parts', '--mode', 'keyword'])).results).toEqual([]);
  });
});
