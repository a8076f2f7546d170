import type { CacheClearAnswer, KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

export async function cacheClear(api: KameleonClient, opts: { olderThan?: string; model?: string }): Promise<CommandResult<CacheClearAnswer>> {
  // The API deletes everything only when told so explicitly.
  const data = await api.cache.clear(opts.olderThan || opts.model ? { olderThan: opts.olderThan, model: opts.model } : { all: true });
  return {
    data,
    human: (d) => `deleted ${d.deleted} cache entries${d.olderThan ? ` not used for ${d.olderThan}` : ''}${d.model ? ` of ${d.model}` : ''}`,
  };
}
