import type { FusedHit, RankedHit } from './FusedHit.js';
import { fusedOrder } from './fusedOrder.js';

export type { FusedHit, FusedPart, RankedHit } from './FusedHit.js';

/**
 * Reciprocal Rank Fusion. Ties are broken by the better single rank, then by
 * id, so equal inputs always give the same order.
 */
export function fuseRrf(keyword: readonly RankedHit[], vector: readonly RankedHit[], k = 60): FusedHit[] {
  const byId = new Map<string, FusedHit>();
  const add = (hits: readonly RankedHit[], which: 'keyword' | 'vector') => {
    for (const h of hits) {
      const rrf = 1 / (k + h.rank);
      const f = byId.get(h.id) ?? { id: h.id, entity: h.entity, score: 0 };
      f.score += rrf;
      f[which] = { rank: h.rank, score: h.score, rrf };
      byId.set(h.id, f);
    }
  };
  add(keyword, 'keyword');
  add(vector, 'vector');
  return [...byId.values()].sort(fusedOrder());
}
