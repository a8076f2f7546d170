import { modelKeyOf, type EmbeddingProvider, type ProviderLimits } from './EmbeddingProvider.js';

const WORD_RE = /[\p{L}\p{N}][\p{L}\p{N}_'-]*/gu;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface HashProviderOptions {
  /** Vector size. Default 384. */
  dimensions?: number;
  /** Inputs per call, for batching tests and demos. Default 2048. */
  maxInputs?: number;
}

/**
 * Deterministic feature hashing: each lower-cased word and word pair adds ±1
 * to a bucket chosen by its FNV-1a hash; the sum is L2-normalized. No
 * weights, no network. It is LEXICAL, not semantic: texts sharing words are
 * close, synonyms are not. For offline use, demos and tests.
 */
export class HashProvider implements EmbeddingProvider {
  readonly name = 'hash';
  readonly model = 'feature-hash-v1';
  readonly dimensions: number;
  readonly limits: ProviderLimits;
  readonly modelKey: string;

  constructor(opts: HashProviderOptions = {}) {
    this.dimensions = opts.dimensions ?? 384;
    this.limits = { maxInputs: opts.maxInputs ?? 2048 };
    this.modelKey = modelKeyOf(this.name, this.model, this.dimensions);
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dimensions);
    const words = text.toLowerCase().match(WORD_RE) ?? [];
    const add = (feature: string, weight: number) => {
      const h = fnv1a(feature);
      v[h % this.dimensions]! += (h & 0x80000000 ? -1 : 1) * weight;
    };
    words.forEach((w, i) => {
      add(w, 1);
      if (i > 0) add(`${words[i - 1]!} ${w}`, 0.5);
    });
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
    return v;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}
