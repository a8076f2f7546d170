// What the API answers for a reindex run: the server and the typed client share this definition.

export const RUN_STATES = ['queued', 'planning', 'running', 'completed', 'cancelled', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface ReindexRun {
  id: string;
  /** null: every entity. */
  entity: string | null;
  force: boolean;
  /** The run first recomputes each row's text (an entity's embedFields changed). */
  recompute: boolean;
  /** Model key of the embedding space the run embeds into; null: the active space. */
  space: string | null;
  state: RunState;
  /** Rows the run processes: an estimate while planning, exact once planned. */
  total: number;
  /** Rows enqueued by the planner so far. */
  planned: number;
  processed: number;
  /** Rows whose text the provider embedded in this run. */
  embedded: number;
  /** Rows whose text came from the embedding cache. */
  cached: number;
  failed: number;
  createdAt: string;
  startedAt: string | null;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** Rows processed per second since the start. */
  rate: number;
  /** Seconds left at the current rate; null when unknown. */
  etaSeconds: number | null;
}
