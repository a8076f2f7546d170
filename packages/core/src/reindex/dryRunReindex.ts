import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import type pg from 'pg';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';

/** USD per million input tokens, for providers with a known list price. */
export const PRICE_PER_MILLION_TOKENS: Record<string, number> = {
  'openai:text-embedding-3-small': 0.02,
  'openai:text-embedding-3-large': 0.13,
  'openai:text-embedding-ada-002': 0.1,
};

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

/** What a reindex would do, computed without changing anything. */
export async function dryRunReindex(
  pool: pg.Pool,
  provider: EmbeddingProvider,
  opts: { entity: string | null; force: boolean; pricePerMillionTokens?: number | undefined },
): Promise<DryRunReport> {
  const scope = `($2::text IS NULL OR s.entity = $2) AND ($3 OR s.status = 'pending' OR s.embedded_hash IS DISTINCT FROM s.content_hash OR s.model IS DISTINCT FROM $1)`;
  const counts = await pool.query<{ rows: string; distinct: string; cached: string }>(
    `WITH t AS (SELECT s.content_hash FROM kdb_search s WHERE ${scope} AND s.content <> ''),
          d AS (SELECT DISTINCT content_hash FROM t)
     SELECT (SELECT count(*) FROM kdb_search s WHERE ${scope}) AS rows,
            (SELECT count(*) FROM d) AS distinct,
            (SELECT count(*) FROM d JOIN kdb_embedding_cache c ON c.model_key = $1 AND c.text_hash = d.content_hash) AS cached`,
    [provider.modelKey, opts.entity, opts.force],
  );
  const texts = await pool.query<{ content: string }>(
    `SELECT DISTINCT ON (s.content_hash) s.content FROM kdb_search s
      WHERE ${scope} AND s.content <> ''
        AND NOT EXISTS (SELECT 1 FROM kdb_embedding_cache c WHERE c.model_key = $1 AND c.text_hash = s.content_hash)`,
    [provider.modelKey, opts.entity, opts.force],
  );
  let tokens = 0;
  for (const { content } of texts.rows) tokens += countTokens(content);
  const toEmbed = texts.rows.length;
  const price = opts.pricePerMillionTokens ?? PRICE_PER_MILLION_TOKENS[`${provider.name}:${provider.model}`] ?? null;
  const r = counts.rows[0]!;
  return {
    entity: opts.entity,
    force: opts.force,
    modelKey: provider.modelKey,
    rows: Number(r.rows),
    distinctTexts: Number(r.distinct),
    cachedTexts: Number(r.cached),
    textsToEmbed: toEmbed,
    estimatedTokens: tokens,
    providerRequests: Math.ceil(toEmbed / provider.limits.maxInputs),
    estimatedCostUsd: price === null ? null : Math.round(((tokens / 1e6) * price) * 1e6) / 1e6,
    pricePerMillionTokens: price,
  };
}
