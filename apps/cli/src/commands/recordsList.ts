import type { KameleonClient, RecordPage } from '@kameleondb/client';
import { table, type CommandResult } from '../output.js';

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** `records list ENTITY [--limit N] [--after ID]`: one page in id order (oldest first). */
export async function recordsList(
  api: KameleonClient,
  entity: string,
  opts: { limit?: number | undefined; after?: string | undefined },
): Promise<CommandResult<RecordPage>> {
  const data = await api.records.list(entity, { limit: opts.limit, after: opts.after });
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
