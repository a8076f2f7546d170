// A record as the API answers it, and the embedding counts of an entity: shared by the server and the typed client.

/** A search row's embedding state in the active space. */
export type EmbeddingState = 'pending' | 'ready' | 'failed';

export interface StoredRecord {
  id: string;
  entity: string;
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  embedding: { status: EmbeddingState; error: string | null; model: string | null; contentHash: string };
}

export interface EmbeddingCounts {
  entity: string;
  total: number;
  /** Ready with a vector of the current model key. */
  indexed: number;
  pending: number;
  failed: number;
  /** Ready, but embedded by another model key or from an older text: a reindex redoes them. */
  stale: number;
}
