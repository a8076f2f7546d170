import { z } from 'zod';
import { printable, ValidationError, type SearchParams } from '@kameleondb/core';
import { searchSchema, whereValueSchema } from '@kameleondb/schemas';
import { assertCleanJson } from './assertCleanJson.js';

/** Turns validated input into engine parameters; `where` may arrive as a JSON string (query string). */
export function toSearchParams(input: z.infer<typeof searchSchema>): SearchParams {
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
  };
}
