import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import type pg from 'pg';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { summarizeRunRows, uncachedRunTexts, type PlannedSpaceRef } from '../store/searchRowStore.js';
import type { DryRunReport } from '@kameleondb/schemas';
export type { DryRunReport };

/** USD per million input tokens, for providers with a known list price. */
export const PRICE_PER_MILLION_TOKENS: Record<string, number> = {
  'openai:text-embedding-3-small': 0.02,
  'openai:text-embedding-3-large': 0.13,
  'openai:text-embedding-ada-002': 0.1,
};


/** What a reindex would do, computed without changing anything. */
export async function dryRunReindex(
  pool: pg.Pool,
  /** The space's provider settings (name, model, request size) and its model key. */
  provider: Pick<EmbeddingProvider, 'name' | 'model' | 'modelKey' | 'limits'>,
  space: PlannedSpaceRef,
  opts: { entity: string | null; force: boolean; pricePerMillionTokens?: number | undefined },
): Promise<DryRunReport> {
  const counts = await summarizeRunRows(pool, space, opts.entity, opts.force);
  const texts = await uncachedRunTexts(pool, space, opts.entity, opts.force);
  let tokens = 0;
  for (const content of texts) tokens += countTokens(content);
  const toEmbed = texts.length;
  const price = opts.pricePerMillionTokens ?? PRICE_PER_MILLION_TOKENS[`${provider.name}:${provider.model}`] ?? null;
  return {
    entity: opts.entity,
    force: opts.force,
    modelKey: provider.modelKey,
    rows: counts.rows,
    distinctTexts: counts.distinctTexts,
    cachedTexts: counts.cachedTexts,
    textsToEmbed: toEmbed,
    estimatedTokens: tokens,
    providerRequests: Math.ceil(toEmbed / provider.limits.maxInputs),
    estimatedCostUsd: price === null ? null : Math.round(((tokens / 1e6) * price) * 1e6) / 1e6,
    pricePerMillionTokens: price,
  };
}
