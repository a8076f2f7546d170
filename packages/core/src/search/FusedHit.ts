/** One retriever's hit: its 1-based rank and raw score. */
export interface RankedHit {
  id: string;
  entity: string;
  rank: number;
  score: number;
}

/**
 * One retriever's part of a fused hit: its rank and raw score, and either its
 * RRF share (rrf fusion) or its normalized score and the weight it had (linear).
 */
export interface FusedPart {
  rank: number;
  score: number;
  rrf?: number;
  normalized?: number;
  weight?: number;
}

export interface FusedHit {
  id: string;
  entity: string;
  /** rrf: sum of 1 / (k + rank) over the retrievers that found it; linear: Σ weight × normalized score. */
  score: number;
  keyword?: FusedPart;
  vector?: FusedPart;
}
