import type { Entity } from '@kameleondb/schemas';
import { DEFAULT_FUSION, type Fusion } from './Fusion.js';

/** What the key needs to know of SearchParams (SearchEngine.ts); every other field is keyed as given. */
interface KeyedParams {
  mode: string;
  limit: number;
  entities: string[];
  window?: number | undefined;
  fusion?: Fusion | undefined;
  where?: Record<string, unknown> | undefined;
  cache?: boolean | undefined;
  explain?: boolean | undefined;
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The result cache key of a search: every request field (a field added to
 * SearchParams later is keyed without a change here) with the defaults
 * filled in (window, fusion) and keys sorted, so requests that run the same
 * search share one entry; the searched entities, resolved, with their
 * definitions' update times (a definition is reused for a moment after a
 * change, as the engine reuses it); the space that answers. `cache` and
 * `explain` are left out: they say whether to use the cache at all.
 */
export function resultCacheKey(params: KeyedParams, entities: readonly Entity[], space: string): string {
  const { cache: _cache, explain: _explain, entities: _asked, ...request } = params;
  return stableJson({
    ...request,
    // An empty where is no filter (SearchEngine.checkedWhere).
    where: request.where && Object.keys(request.where).length ? request.where : undefined,
    window: params.window ?? params.limit * 4,
    fusion: params.mode === 'hybrid' ? (params.fusion ?? DEFAULT_FUSION) : params.fusion,
    entities: entities.map((e) => [e.name, e.updatedAt]),
    space,
  });
}
