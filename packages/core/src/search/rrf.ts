/** One retriever's hit: its 1-based rank and raw score. */
export interface RankedHit {
  id: string;
  entity: string;
  rank: number;
  score: number;
}

export interface FusedHit {
  id: string;
  entity: string;
  /** Sum of 1 / (k + rank) over the retrievers that found it. */
  score: number;
  keyword?: { rank: number; score: number; rrf: number };
  vector?: { rank: number; score: number; rrf: number };
}

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
  const best = (f: FusedHit) => Math.min(f.keyword?.rank ?? Infinity, f.vector?.rank ?? Infinity);
  return [...byId.values()].sort((a, b) => b.score - a.score || best(a) - best(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
