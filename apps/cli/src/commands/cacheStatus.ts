import type { CacheSummary, KameleonClient } from '@kameleondb/client';
import { bytes, table, type CommandResult } from '../output.js';

export async function cacheStatus(api: KameleonClient): Promise<CommandResult<CacheSummary>> {
  const data = await api.cache.summary();
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
