// One retriever's part of a fused hit is shared with the typed client (explain answers): one definition.
import type { FusedPart } from '@kameleondb/schemas';
export type { FusedPart };

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
  /** rrf: sum of 1 / (k + rank) over the retrievers that found it; linear: Σ weight × normalized score. */
  score: number;
  keyword?: FusedPart;
  vector?: FusedPart;
}
