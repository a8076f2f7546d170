import { z } from 'zod';
import { lsnBytes, printable, RRF_K, ValidationError, type Fusion, type SearchParams } from '@kameleondb/core';
import { searchSchema, walLsnSchema, whereValueSchema } from '@kameleondb/schemas';
import { assertCleanJson } from './assertCleanJson.js';

/** The fusion asked for, or none: the engine's default (RRF, k = 60). The schema allowed only hybrid mode's pairs. */
function fusionOf(input: z.infer<typeof searchSchema>): Fusion | undefined {
  if (input.fusion === 'linear') return { method: 'linear', weights: input.weights!, normalization: input.normalization ?? 'minmax' };
  if (input.fusion === 'rrf' || input.rrfK !== undefined) return { method: 'rrf', k: input.rrfK ?? RRF_K };
  return undefined;
}

const afterHeaderSchema = walLsnSchema('the KDB-After-LSN header');

/**
 * The WAL position a search must see: `after` and the KDB-After-LSN header
 * (a repeated header arrives joined by commas, and fails the format); when
 * both are given, the later one.
 */
function afterOf(query: string | undefined, header: string | undefined): string | undefined {
  if (header === undefined) return query;
  const h = afterHeaderSchema.safeParse(header);
  if (!h.success) throw new ValidationError(h.error.issues[0]!.message, { header: 'KDB-After-LSN' });
  if (query === undefined) return h.data;
  return lsnBytes(query) >= lsnBytes(h.data) ? query : h.data;
}

/** Turns validated input into engine parameters; `where` may arrive as a JSON string (query string). */
export function toSearchParams(input: z.infer<typeof searchSchema>, afterHeader?: string): SearchParams {
  let where = input.where;
  if (typeof where === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(where);
    } catch (err) {
      throw new ValidationError(`where is not valid JSON: ${printable((err as Error).message)}`);
    }
    assertCleanJson(parsed, 'where');
    const r = z.record(z.string(), whereValueSchema).safeParse(parsed);
    if (!r.success || Array.isArray(parsed)) {
      throw new ValidationError('where must be a JSON object of field: value pairs (string, number, boolean or null values)');
    }
    where = r.data;
  }
  const list = typeof input.entities === 'string' ? input.entities.split(',').map((s) => s.trim()).filter(Boolean) : (input.entities ?? []);
  const entities = [...new Set([...(input.entity ? [input.entity] : []), ...list])];
  return {
    q: input.q,
    entities,
    mode: input.mode,
    limit: input.limit,
    threshold: input.threshold,
    where,
    explain: input.explain ?? false,
    window: input.window,
    fusion: fusionOf(input),
    cache: input.cache ?? true,
    after: afterOf(input.after, afterHeader),
    consistency: input.consistency,
  };
}
