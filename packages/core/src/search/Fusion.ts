import { ValidationError } from '../errors.js';
import { fuseLinear, type FusionWeights } from './fuseLinear.js';
import type { FusedHit, RankedHit } from './FusedHit.js';
import type { Normalization } from './normalizeScores.js';
import { fuseRrf } from './rrf.js';

/** How hybrid search fuses its two rankings. */
export type Fusion = { method: 'rrf'; k: number } | { method: 'linear'; weights: FusionWeights; normalization: Normalization };

/** The RRF constant k of hybrid fusion by default. */
export const RRF_K = 60;

export const DEFAULT_FUSION: Fusion = { method: 'rrf', k: RRF_K };

/** The fusion after checking its numbers (the API's schema checks them first; this guards other callers). */
export function checkedFusion(f: Fusion): Fusion {
  if (f.method === 'rrf') {
    if (!Number.isInteger(f.k) || f.k < 1 || f.k > 1000) throw new ValidationError(`rrfK must be an integer 1 to 1000, got ${f.k}`);
    return f;
  }
  const { keyword, vector } = f.weights;
  if (![keyword, vector].every((w) => Number.isFinite(w) && w >= 0) || keyword + vector === 0) {
    throw new ValidationError(`weights must be two non-negative numbers (keyword, vector), not both 0, got ${keyword},${vector}`);
  }
  return f;
}

/** The fused ranking of the keyword and vector hits. */
export function fuse(f: Fusion, keyword: readonly RankedHit[], vector: readonly RankedHit[]): FusedHit[] {
  return f.method === 'rrf' ? fuseRrf(keyword, vector, f.k) : fuseLinear(keyword, vector, f.weights, f.normalization);
}
