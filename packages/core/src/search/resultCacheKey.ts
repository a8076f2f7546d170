import type { Entity } from '@kameleondb/schemas';
import { DEFAULT_FUSION } from './Fusion.js';
import type { SearchParams } from './SearchEngine.js';

/**
 * The result cache key of a search: the request with its defaults filled in
 * (window, fusion) and `where` in key order, so requests that run the same
 * search share one entry; the searched entities with their definitions'
 * update times (a definition is reused for a moment after a change, as the
 * engine reuses it); the space that answers.
 */
export function resultCacheKey(params: SearchParams, entities: readonly Entity[], space: string): string {
  const where = params.where && Object.keys(params.where).length ? Object.entries(params.where).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : null;
  return JSON.stringify([
    params.q,
    entities.map((e) => [e.name, e.updatedAt]),
    params.mode,
    params.limit,
    params.threshold ?? null,
    where,
    params.window ?? params.limit * 4,
    params.mode === 'hybrid' ? (params.fusion ?? DEFAULT_FUSION) : (params.fusion ?? null),
    space,
  ]);
}
