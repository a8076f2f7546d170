import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';

interface Part {
  rank: number;
  score: number;
  rrf?: number;
  normalized?: number;
  weight?: number;
}
interface Hit {
  id: string;
  score: number;
  explain?: { keyword?: Part; vector?: Part };
}
interface Answer {
  results: Hit[];
  explain?: { rrfK?: number; fusion?: unknown };
}

const WORDS = ['engine', 'brake', 'wheel', 'gearbox', 'clutch', 'battery', 'window', 'mirror', 'seat', 'horn'];

describe('hybrid fusion through the API: rrf (default) and linear', () => {
  let p: Pipeline;
  let call: Pipeline['call'];
  const search = async (query: string) => {
    const res = await call<Answer>('GET', `/v1/search?q=${encodeURIComponent('engine brake wheel')}&entity=parts&limit=12&${query}`);
    expect(res.status).toBe(200);
    return res.body;
  };
  const ids = (a: Answer) => a.results.map((r) => r.id);

  beforeAll(async () => {
    p = await startPipeline({ workers: 1, openai: true });
    call = p.call;
    await call('POST', '/v1/entities', { name: 'parts', fields: { title: 'text' }, embedFields: ['title'] });
    // Texts repeat the query words unevenly, so that BM25 and the (hash) embedding rank them differently.
    const parts = Array.from({ length: 60 }, (_, i) => ({
      title: [WORDS[i % 10], WORDS[(i * 3) % 10], WORDS[(i * 7) % 10], ...Array.from({ length: i % 4 }, () => WORDS[i % 3]), `note${i}`].join(' '),
    }));
    expect((await call('POST', '/v1/entities/parts/records?wait=true', parts)).body.counts.ready).toBe(60);
  });
  afterAll(() => p.close());

  it('linear with minmax and weights (1, 0) orders exactly as keyword alone, and (0, 1) exactly as vector alone', async () => {
    const keyword = await search('mode=keyword');
    const vector = await search('mode=vector');
    expect(keyword.results).toHaveLength(12);
    expect(vector.results).toHaveLength(12);
    // The two retrievers disagree, or the test would prove nothing.
    expect(ids(keyword)).not.toEqual(ids(vector));
    expect(ids(await search('fusion=linear&weights=1,0&normalization=minmax'))).toEqual(ids(keyword));
    expect(ids(await search('fusion=linear&weights=1,0'))).toEqual(ids(keyword));
    expect(ids(await search('fusion=linear&weights=0,1'))).toEqual(ids(vector));
    const mixed = await search('fusion=linear&weights=0.5,0.5');
    expect(ids(mixed)).not.toEqual(ids(keyword));
    expect(ids(mixed)).not.toEqual(ids(vector));
  });

  it('leaves the default unchanged (RRF, k = 60) and takes rrfK', async () => {
    const byDefault = await search('explain=true');
    expect(byDefault.explain).toMatchObject({ rrfK: 60, fusion: { method: 'rrf', k: 60 } });
    for (const r of byDefault.results) {
      const want = (r.explain!.keyword ? 1 / (60 + r.explain!.keyword.rank) : 0) + (r.explain!.vector ? 1 / (60 + r.explain!.vector.rank) : 0);
      expect(r.score).toBeCloseTo(want, 12);
    }
    const explicit = await search('fusion=rrf&rrfK=60&explain=true');
    expect(explicit.results.map((r) => [r.id, r.score])).toEqual(byDefault.results.map((r) => [r.id, r.score]));
    const k1 = await search('rrfK=1&explain=true');
    expect(k1.explain).toMatchObject({ rrfK: 1 });
    for (const r of k1.results) {
      expect(r.score).toBeCloseTo((r.explain!.keyword ? 1 / (1 + r.explain!.keyword.rank) : 0) + (r.explain!.vector ? 1 / (1 + r.explain!.vector.rank) : 0), 12);
    }
  });

  it('explains raw and normalized parts and the weights; POST takes {keyword, vector}; threshold cuts the fused score', async () => {
    const res = await call<Answer>('POST', '/v1/search', { q: 'engine brake wheel', entity: 'parts', limit: 30, fusion: 'linear', weights: { keyword: 0.3, vector: 0.7 }, normalization: 'zscore', explain: true });
    expect(res.status).toBe(200);
    expect(res.body.explain).toMatchObject({ fusion: { method: 'linear', weights: { keyword: 0.3, vector: 0.7 }, normalization: 'zscore' } });
    expect(res.body.explain!.rrfK).toBeUndefined();
    for (const r of res.body.results) {
      const k = r.explain!.keyword;
      const v = r.explain!.vector;
      if (k) expect(k).toMatchObject({ weight: 0.3, rank: expect.any(Number), score: expect.any(Number), normalized: expect.any(Number) });
      if (v) expect(v).toMatchObject({ weight: 0.7, rank: expect.any(Number), score: expect.any(Number), normalized: expect.any(Number) });
      expect(r.score).toBeCloseTo(0.3 * (k?.normalized ?? 0) + 0.7 * (v?.normalized ?? 0), 12);
    }
    const scores = res.body.results.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const cut = scores[5]!;
    const cutRes = await call<Answer>('POST', '/v1/search', { q: 'engine brake wheel', entity: 'parts', limit: 30, fusion: 'linear', weights: { keyword: 0.3, vector: 0.7 }, normalization: 'zscore', threshold: cut });
    expect(cutRes.body.results.length).toBeGreaterThanOrEqual(6);
    expect(cutRes.body.results.length).toBeLessThan(res.body.results.length);
    expect(cutRes.body.results.every((r) => r.score >= cut)).toBe(true);
  });

  it('answers 400 naming the bad value and what is allowed', async () => {
    const bad = async (path: string, body?: unknown) => {
      const r = await call(body === undefined ? 'GET' : 'POST', path, body);
      expect(r.status).toBe(400);
      return r.body.error.message as string;
    };
    const q = '/v1/search?q=engine&entity=parts';
    expect(await bad(`${q}&fusion=sum`)).toMatch(/fusion must be one of rrf, linear/);
    expect(await bad(`${q}&rrfK=0`)).toMatch(/rrfK must be an integer 1 to 1000/);
    expect(await bad(`${q}&rrfK=1001`)).toMatch(/rrfK must be an integer 1 to 1000/);
    expect(await bad(`${q}&rrfK=2.5`)).toMatch(/rrfK must be an integer 1 to 1000/);
    expect(await bad(`${q}&fusion=linear&weights=0.3`)).toMatch(/weights must be two non-negative numbers KEYWORD,VECTOR \(e\.g\. 0\.3,0\.7\), got "0\.3"/);
    expect(await bad(`${q}&fusion=linear&weights=-1,2`)).toMatch(/got "-1,2"/);
    expect(await bad(`${q}&fusion=linear&weights=a,b`)).toMatch(/got "a,b"/);
    expect(await bad(`${q}&fusion=linear&weights=0,0`)).toMatch(/weights must not both be 0/);
    expect(await bad(`${q}&fusion=linear`)).toMatch(/fusion=linear needs weights/);
    expect(await bad(`${q}&fusion=linear&weights=1,1&normalization=max`)).toMatch(/normalization must be one of minmax, l2, zscore/);
    expect(await bad(`${q}&weights=1,1`)).toMatch(/weights applies only with fusion=linear, not fusion=rrf/);
    expect(await bad(`${q}&normalization=l2`)).toMatch(/normalization applies only with fusion=linear, not fusion=rrf/);
    expect(await bad(`${q}&fusion=linear&weights=1,1&rrfK=10`)).toMatch(/rrfK applies only with fusion=rrf, not fusion=linear/);
    expect(await bad(`${q}&mode=vector&fusion=linear&weights=1,0`)).toMatch(/fusion, weights apply only to mode hybrid, not mode vector/);
    expect(await bad(`${q}&mode=keyword&rrfK=10`)).toMatch(/rrfK applies only to mode hybrid, not mode keyword/);
    expect(await bad('/v1/search', { q: 'engine', fusion: 'linear', weights: [1, 0] })).toMatch(/weights/);
    expect(await bad('/v1/search', { q: 'engine', fusion: 'linear', weights: { keyword: 1, vector: -1 } })).toMatch(/weights must not be negative/);
    expect(await bad('/v1/search', { q: 'engine', fusion: 'linear', weights: { keyword: 1, vector: 0, extra: 1 } })).toMatch(/extra/);
  });
});
