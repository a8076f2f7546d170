import type { ApiClient } from '../ApiClient.js';
import { bytes, table, type CommandResult } from '../output.js';

interface CacheStatus {
  entries: number;
  bytes: number;
  models: { modelKey: string; entries: number; hits: number; oldestUse: string | null; newestUse: string | null }[];
  hits: number;
  misses: number;
  hitRate: number | null;
  statsSince: string | null;
}

export async function cacheStatus(api: ApiClient): Promise<CommandResult<CacheStatus>> {
  const data = await api.request<CacheStatus>('GET', 'v1/cache');
  return {
    data,
    human: (c) =>
      [
        `${c.entries} entries, ${bytes(c.bytes)} on disk; hit rate ${c.hitRate === null ? 'n/a' : `${(100 * c.hitRate).toFixed(1)}%`} (${c.hits} hits, ${c.misses} misses${c.statsSince ? ` since ${c.statsSince}` : ''})`,
        ...(c.models.length
          ? ['', table(['MODEL KEY', 'ENTRIES', 'HITS', 'OLDEST USE', 'NEWEST USE'], c.models.map((m) => [m.modelKey, m.entries, m.hits, m.oldestUse ?? '', m.newestUse ?? '']))]
          : []),
      ].join('\n'),
  };
}
