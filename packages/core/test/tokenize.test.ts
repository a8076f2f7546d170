import { describe, expect, it } from 'vitest';
import { fuseRrf, tokenize } from '@kameleondb/core';

describe('tokenize', () => {
  it('lower-cases, splits on Unicode words and keeps identifiers whole', () => {
    expect(tokenize('Order #12345 for JANE.Doe@Example.com, SKU AB-1234-X; Über-Größe')).toEqual([
      'order', '12345', 'for', 'jane', 'doe', 'example', 'com', 'sku', 'ab', '1234', 'x', 'über', 'größe',
      'jane.doe@example.com', 'ab-1234-x', 'über-größe', '#12345',
    ]);
    expect(tokenize('日本語 テキスト')).toEqual(['日本語', 'テキスト']);
    expect(tokenize('  ')).toEqual([]);
  });
});

describe('fuseRrf', () => {
  it('sums 1/(k + rank) and breaks ties by best rank, then id', () => {
    const fused = fuseRrf(
      [{ id: 'a', entity: 'e', rank: 1, score: 9 }, { id: 'b', entity: 'e', rank: 2, score: 5 }],
      [{ id: 'b', entity: 'e', rank: 1, score: 0.9 }, { id: 'c', entity: 'e', rank: 2, score: 0.8 }, { id: 'd', entity: 'e', rank: 1, score: 0 }].slice(0, 2),
    );
    expect(fused.map((f) => f.id)).toEqual(['b', 'a', 'c']);
    expect(fused[0]!.score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    const tie = fuseRrf([{ id: 'y', entity: 'e', rank: 1, score: 1 }], [{ id: 'x', entity: 'e', rank: 1, score: 1 }]);
    expect(tie.map((f) => f.id)).toEqual(['x', 'y']);
  });
});
