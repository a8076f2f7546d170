// Part of an `explain` answer of search: the server and the typed client share this definition.

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
