import { describe, expect, it } from 'vitest';
import { tokenize } from '@kameleondb/core';
import { fuseRrf } from '../src/search/rrf.js';

/** The tokenizer as it was written with regexes (quadratic on long words): the reference for its semantics on short texts. */
function regexTokenize(text: string): string[] {
  const t = text.normalize('NFC').toLowerCase();
  const terms = [...(t.match(/[\p{L}\p{N}]+/gu) ?? [])];
  terms.push(...(t.match(/[\p{L}\p{N}]+(?:[._@#:/+'-][\p{L}\p{N}]+)+/gu) ?? []));
  terms.push(...(t.match(/#[\p{L}\p{N}]+(?:[._@#:/+'-][\p{L}\p{N}]+)*/gu) ?? []));
  return terms.filter((term) => term.length <= 100);
}

/** Deterministic pseudo-random texts over letters, digits, joiners, spaces and other scripts. */
function* texts(count: number): Generator<string> {
  const alphabet = ['a', 'B', '7', 'é', 'ß', '日', '𝐀', 'İ', '.', '_', '@', '#', ':', '/', '+', "'", '-', ' ', ',', '\n', 'e\u0301'];
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < count; i++) {
    let s = '';
    const len = next() % 40;
    for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
    yield s;
  }
}

function timed(text: string): number {
  const t0 = performance.now();
  tokenize(text);
  return performance.now() - t0;
}

describe('tokenize', () => {
  it('lower-cases, splits on Unicode words and keeps identifiers whole', () => {
    expect(tokenize('Order #12345 for JANE.Doe@Example.com, SKU AB-1234-X; Über-Größe')).toEqual([
      'order', '12345', 'for', 'jane', 'doe', 'example', 'com', 'sku', 'ab', '1234', 'x', 'über', 'größe',
      'jane.doe@example.com', 'ab-1234-x', 'über-größe', '#12345',
    ]);
    expect(tokenize('日本語 テキスト')).toEqual(['日本語', 'テキスト']);
    expect(tokenize('  ')).toEqual([]);
  });

  it('joins words only across one joiner and starts a hashed term at the first # of a chain', () => {
    expect(tokenize('a..b.c')).toEqual(['a', 'b', 'c', 'b.c']);
    expect(tokenize('a#b#c')).toEqual(['a', 'b', 'c', 'a#b#c', '#b#c']);
    expect(tokenize('x##a.b, #7')).toEqual(['x', 'a', 'b', '7', 'a.b', '#a.b', '#7']);
    expect(tokenize("path/to/file.ts' -v1.2-")).toEqual(['path', 'to', 'file', 'ts', 'v1', '2', 'path/to/file.ts', 'v1.2']);
    expect(tokenize(`${'a'.repeat(101)} ${'b'.repeat(100)}.c`)).toEqual(['b'.repeat(100), 'c']);
  });

  it('yields the same terms as the regex definition on generated texts', () => {
    for (const text of texts(3000)) expect(tokenize(text), JSON.stringify(text)).toEqual(regexTokenize(text));
  });

  it('is linear in its input: a 10 MB single word takes at most ~30x a 1 MB one, and 100 KB of letters is fast', { timeout: 60_000 }, () => {
    expect(tokenize('a'.repeat(100_000))).toEqual([]);
    expect(timed('q'.repeat(100_000))).toBeLessThan(500);
    timed('w'.repeat(1_000_000)); // warm-up
    // The fastest of three on each side: a GC pause or a busy core in one run is not the algorithm.
    const fastest = (text: string) => Math.min(timed(text), timed(text), timed(text));
    const oneMb = Math.max(fastest('x'.repeat(1_000_000)), 1);
    const tenMb = fastest('y'.repeat(10_000_000));
    expect(tenMb).toBeLessThan(5000);
    expect(tenMb).toBeLessThan(30 * oneMb + 50);
    // Long chains of identifiers, the other shape the regex backtracked on.
    expect(timed('ab.'.repeat(1_000_000))).toBeLessThan(5000);
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
