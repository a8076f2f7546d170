import type { FusedHit } from './FusedHit.js';

type Retriever = 'keyword' | 'vector';

/**
 * The order of fused hits: score descending; ties go to the better single
 * rank, then the id, so equal inputs always give the same order. Only the
 * ranks of `counted` retrievers break ties: linear fusion leaves out a
 * retriever weighted 0, so weights (1, 0) order exactly as keyword alone.
 */
export function fusedOrder(counted: readonly Retriever[] = ['keyword', 'vector']): (a: FusedHit, b: FusedHit) => number {
  const best = (f: FusedHit) => Math.min(...counted.map((r) => f[r]?.rank ?? Infinity));
  return (a, b) => b.score - a.score || best(a) - best(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
