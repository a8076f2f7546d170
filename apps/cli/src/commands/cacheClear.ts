import type { ApiClient } from '../ApiClient.js';
import type { CommandResult } from '../output.js';

export async function cacheClear(api: ApiClient, opts: { olderThan?: string; model?: string }): Promise<CommandResult<{ deleted: number; olderThan: string | null; model: string | null }>> {
  const q = new URLSearchParams();
  if (opts.olderThan) q.set('olderThan', opts.olderThan);
  if (opts.model) q.set('model', opts.model);
  // The API deletes everything only when told so explicitly.
  if (q.size === 0) q.set('all', 'true');
  const data = await api.request<{ deleted: number; olderThan: string | null; model: string | null }>('DELETE', `v1/cache?${q}`);
  return {
    data,
    human: (d) => `deleted ${d.deleted} cache entries${d.olderThan ? ` not used for ${d.olderThan}` : ''}${d.model ? ` of ${d.model}` : ''}`,
  };
}
