import type { StoredRecord } from '@kameleondb/core';
import type { ApiClient } from '../ApiClient.js';
import { table, type CommandResult } from '../output.js';

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** `records list ENTITY [--limit N] [--after ID]`: one page in id order (oldest first). */
export async function recordsList(
  api: ApiClient,
  entity: string,
  opts: { limit?: number | undefined; after?: string | undefined },
): Promise<CommandResult<{ records: StoredRecord[]; next: string | null }>> {
  const q = new URLSearchParams();
  if (opts.limit !== undefined) q.set('limit', String(opts.limit));
  if (opts.after) q.set('after', opts.after);
  const data = await api.request<{ records: StoredRecord[]; next: string | null }>('GET', `v1/entities/${encodeURIComponent(entity)}/records${q.size ? `?${q}` : ''}`);
  return {
    data,
    human: (d) =>
      d.records.length === 0
        ? `no records in ${entity}${opts.after ? ` after ${opts.after}` : ''}`
        : [
            table(
              ['ID', 'EMBEDDING', 'UPDATED', 'DATA'],
              d.records.map((r) => [r.id, r.embedding.status, r.updatedAt, clip(JSON.stringify(r.data), 80)]),
            ),
            ...(d.next ? ['', `more: kameleondb records list ${entity}${opts.limit === undefined ? '' : ` --limit ${opts.limit}`} --after ${d.next}`] : []),
          ].join('\n'),
  };
}
