import { describe, expect, it } from 'vitest';
import { checkedFusion } from '../src/search/Fusion.js';
import { fuseLinear } from '../src/search/fuseLinear.js';
import { l2, minmax, zscore } from '../src/search/normalizeScores.js';
import type { RankedHit } from '../src/search/FusedHit.js';

const hits = (...xs: [string, number][]): RankedHit[] => xs.map(([id, score], i) => ({ id, entity: 'e', rank: i + 1, score }));
const close = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 12));
};

describe('score normalizations', () => {
  it('minmax maps the best to 1 and the worst to 0; all-equal and single scores give 1, not a division by zero', () => {
    close(minmax([4, 2, 0]), [1, 0.5, 0]);
    close(minmax([0.9, 0.6, 0.3]), [1, 0.5, 0]);
    close(minmax([5, 5, 5]), [1, 1, 1]);
    close(minmax([7]), [1]);
    close(minmax([-0.2, -0.6]), [1, 0]);
  });

  it('l2 divides by the Euclidean norm; all zero stays zero', () => {
    close(l2([3, 4]), [0.6, 0.8]);
    close(l2([7]), [1]);
    close(l2([0, 0]), [0, 0]);
    close(l2([2, 2, 2, 2]), [0.5, 0.5, 0.5, 0.5]);
  });

  it('zscore matches a hand-computed example; all-equal and single scores give 0', () => {
    // mean 2, population σ = √(8/3) = 1.632993…
    close(zscore([4, 2, 0]), [1.224744871391589, 0, -1.224744871391589]);
    // mean 2.5, σ = √1.25 = 1.118034…
    close(zscore([4, 3, 2, 1]), [1.3416407864998738, 0.4472135954999579, -0.4472135954999579, -1.3416407864998738]);
    close(zscore([5, 5]), [0, 0]);
    close(zscore([7]), [0]);
  });
});

describe('fuseLinear', () => {
  const keyword = hits(['a', 10], ['b', 6], ['c', 2]);
  const vector = hits(['b', 0.9], ['d', 0.5]);

  it('sums the weighted normalized parts; a hit one retriever missed gets 0 for that part', () => {
    const fused = fuseLinear(keyword, vector, { keyword: 0.3, vector: 0.7 }, 'minmax');
    // a: 0.3·1; b: 0.3·0.5 + 0.7·1; c: 0.3·0; d: 0.7·0 — c and d tie at 0: d has the better single rank (2 < 3).
    expect(fused.map((f) => f.id)).toEqual(['b', 'a', 'd', 'c']);
    close(fused.map((f) => f.score), [0.85, 0.3, 0, 0]);
    expect(fused[0]).toMatchObject({ keyword: { rank: 2, score: 6, normalized: 0.5, weight: 0.3 }, vector: { rank: 1, score: 0.9, normalized: 1, weight: 0.7 } });
    expect(fused[1]!.vector).toBeUndefined();
  });

  it('with weights (1, 0) orders exactly as keyword alone, with (0, 1) exactly as vector alone (minmax, l2)', () => {
    for (const n of ['minmax', 'l2'] as const) {
      // Under minmax the keyword's worst hit (0) ties with d, found by the vector side only (0): the keyword rank decides.
      expect(fuseLinear(keyword, vector, { keyword: 1, vector: 0 }, n).map((f) => f.id)).toEqual(['a', 'b', 'c', 'd']);
      expect(fuseLinear(keyword, vector, { keyword: 0, vector: 1 }, n).map((f) => f.id)).toEqual(['b', 'd', 'a', 'c']);
    }
    // zscore keeps the keyword order among keyword hits, but a hit it missed (0, the mean) passes those below the mean.
    expect(fuseLinear(keyword, vector, { keyword: 1, vector: 0 }, 'zscore').map((f) => f.id)).toEqual(['a', 'b', 'd', 'c']);
  });

  it('uses zscore as hand-computed', () => {
    const fused = fuseLinear(keyword, vector, { keyword: 1, vector: 1 }, 'zscore');
    // keyword 10, 6, 2: mean 6, σ = √(32/3) → a 1.2247, b 0, c −1.2247; vector 0.9, 0.5: b 1, d −1.
    const z = Math.sqrt(3 / 2);
    expect(fused.map((f) => f.id)).toEqual(['a', 'b', 'd', 'c']);
    close(fused.map((f) => f.score), [z, 1, -1, -z]);
  });

  it('breaks ties by the better single rank, then the id, and handles one result and no results', () => {
    const tie = fuseLinear(hits(['y', 1]), hits(['x', 1]), { keyword: 1, vector: 1 }, 'minmax');
    expect(tie.map((f) => [f.id, f.score])).toEqual([['x', 1], ['y', 1]]);
    const equal = fuseLinear(hits(['p', 3], ['q', 3], ['r', 3]), [], { keyword: 1, vector: 1 }, 'minmax');
    expect(equal.map((f) => [f.id, f.score])).toEqual([['p', 1], ['q', 1], ['r', 1]]);
    const single = fuseLinear(hits(['s', 0.4]), [], { keyword: 0.5, vector: 0.5 }, 'zscore');
    expect(single.map((f) => [f.id, f.score])).toEqual([['s', 0]]);
    expect(fuseLinear([], [], { keyword: 1, vector: 1 }, 'l2')).toEqual([]);
  });
});

describe('checkedFusion', () => {
  it('refuses, naming the value, what the API schema would refuse, for callers that skip it', () => {
    expect(() => checkedFusion({ method: 'rrf', k: 0 })).toThrow(/rrfK must be an integer 1 to 1000, got 0/);
    expect(() => checkedFusion({ method: 'linear', weights: { keyword: 0, vector: 0 }, normalization: 'minmax' })).toThrow(/not both 0, got 0,0/);
    expect(() => checkedFusion({ method: 'linear', weights: { keyword: -1, vector: 1 }, normalization: 'l2' })).toThrow(/non-negative/);
    expect(() => checkedFusion({ method: 'linear', weights: { keyword: NaN, vector: 1 }, normalization: 'l2' })).toThrow(/non-negative/);
    expect(checkedFusion({ method: 'rrf', k: 1000 })).toEqual({ method: 'rrf', k: 1000 });
  });
});
