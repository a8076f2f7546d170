// The report of a dry run (`POST /v1/reindex {dryRun}`, `POST /v1/spaces {dryRun}`): shared by the server and the typed client.

export interface DryRunReport {
  entity: string | null;
  force: boolean;
  modelKey: string;
  /** Rows the run would process. */
  rows: number;
  /** Distinct texts among them. */
  distinctTexts: number;
  /** Distinct texts already in the embedding cache. */
  cachedTexts: number;
  /** Distinct texts the provider would embed. */
  textsToEmbed: number;
  /** Tokens of the texts to embed (cl100k_base, OpenAI's embedding tokenizer). */
  estimatedTokens: number;
  providerRequests: number;
  /** null when the provider has no known or configured price. */
  estimatedCostUsd: number | null;
  pricePerMillionTokens: number | null;
}
