import type { ACTIVATE_MODES } from './spaceBodySchema.js';

// An embedding space as the API answers it (a row of kdb_embedding_spaces): shared by the server and the typed client.

export const SPACE_STATES = ['building', 'active', 'retired'] as const;
export type SpaceState = (typeof SPACE_STATES)[number];

export interface EmbeddingSpace {
  id: number;
  /** `provider:model:dimensions`, as EmbeddingProvider.modelKey. */
  modelKey: string;
  provider: string;
  model: string;
  dimensions: number;
  /** Base URL of an OpenAI-compatible server; null: the provider's default (or the environment's). Never a secret. */
  baseUrl: string | null;
  state: SpaceState;
  activate: (typeof ACTIVATE_MODES)[number];
  buildRunId: string | null;
  createdAt: string;
  activatedAt: string | null;
  retiredAt: string | null;
}
