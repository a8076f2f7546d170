import { fusedOrder } from './fusedOrder.js';
import { NORMALIZERS, type Normalization } from './normalizeScores.js';
import type { FusedHit, RankedHit } from './FusedHit.js';

/** The weight of each retriever's normalized score in linear fusion. */
export interface FusionWeights {
  keyword: number;
  vector: number;
}

/**
 * Linear fusion (Elasticsearch's linear retriever): each retriever's scores
 * are normalized over its own hits, then a hit scores
 * weights.keyword × keyword + weights.vector × vector. A hit one retriever did
 * not find gets 0 for that part. Ties as in RRF: the better single rank (in a
 * retriever weighted above 0), then the id.
 */
export function fuseLinear(keyword: readonly RankedHit[], vector: readonly RankedHit[], weights: FusionWeights, normalization: Normalization): FusedHit[] {
  const byId = new Map<string, FusedHit>();
  const add = (hits: readonly RankedHit[], which: 'keyword' | 'vector') => {
    if (hits.length === 0) return;
    const normalized = NORMALIZERS[normalization](hits.map((h) => h.score));
    const weight = weights[which];
    hits.forEach((h, i) => {
      const f = byId.get(h.id) ?? { id: h.id, entity: h.entity, score: 0 };
      f.score += weight * normalized[i]!;
      f[which] = { rank: h.rank, score: h.score, normalized: normalized[i]!, weight };
      byId.set(h.id, f);
    });
  };
  add(keyword, 'keyword');
  add(vector, 'vector');
  const counted = (['keyword', 'vector'] as const).filter((r) => weights[r] > 0);
  return [...byId.values()].sort(fusedOrder(counted));
}
