import { describe, expect, it } from 'vitest';
import { HashProvider } from '@kameleondb/core';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('HashProvider', () => {
  const p = new HashProvider();
  it('gives deterministic 384-dim unit vectors and a model key', async () => {
    const [a, b] = await p.embed(['Hello world', 'Hello world']);
    expect(a).toHaveLength(384);
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(p.modelKey).toBe('hash:feature-hash-v1:384');
  });
  it('is lexical: shared words make texts closer', () => {
    const q = p.embedOne('red apple pie');
    expect(dot(q, p.embedOne('apple pie recipe'))).toBeGreaterThan(dot(q, p.embedOne('blue car engine')));
  });
  it('honours the configured dimension', () => {
    expect(new HashProvider({ dimensions: 64 }).embedOne('x')).toHaveLength(64);
  });
});
