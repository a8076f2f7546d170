import type { NORMALIZATIONS } from '@kameleondb/schemas';

/** How linear fusion brings each retriever's scores to one scale, as in Elasticsearch's linear retriever. */
export type Normalization = (typeof NORMALIZATIONS)[number];

/**
 * (s − min) / (max − min): the best hit gets 1, the worst 0. When every score
 * is equal (one hit included) each gets 1: all are the retriever's best.
 */
export function minmax(scores: readonly number[]): number[] {
  const min = Math.min(...scores);
  const max = Math.max(...scores);
  return scores.map((s) => (max === min ? 1 : (s - min) / (max - min)));
}

/** s / ‖scores‖₂; all zero stays zero. */
export function l2(scores: readonly number[]): number[] {
  const norm = Math.sqrt(scores.reduce((sum, s) => sum + s * s, 0));
  return scores.map((s) => (norm === 0 ? 0 : s / norm));
}

/**
 * (s − mean) / σ with the population standard deviation. When every score is
 * equal σ is 0 and each gets 0, the mean, as a hit the retriever did not find.
 */
export function zscore(scores: readonly number[]): number[] {
  const mean = scores.reduce((sum, s) => sum + s, 0) / scores.length;
  const sd = Math.sqrt(scores.reduce((sum, s) => sum + (s - mean) ** 2, 0) / scores.length);
  return scores.map((s) => (sd === 0 ? 0 : (s - mean) / sd));
}

export const NORMALIZERS: Record<Normalization, (scores: readonly number[]) => number[]> = { minmax, l2, zscore };
