import type { KameleonClient } from '@kameleondb/client';
import { seconds, table, type CommandResult } from '../output.js';
import type { Run } from '../reindexRun.js';

/** Seconds from start to finish, or to now for a run still going; null before it starts. */
function duration(r: Run, now: number): number | null {
  if (!r.startedAt) return null;
  return ((r.finishedAt ? Date.parse(r.finishedAt) : now) - Date.parse(r.startedAt)) / 1000;
}

/** `embeddings jobs [--limit N]`: recent reindex runs, newest first. */
export async function embeddingsJobs(api: KameleonClient, opts: { limit?: number | undefined }): Promise<CommandResult<{ runs: Run[] }>> {
  const data = { runs: await api.reindex.list({ limit: opts.limit }) };
  const now = Date.now();
  return {
    data,
    human: (d) =>
      d.runs.length === 0
        ? 'no reindex runs yet: kameleondb embeddings reindex [ENTITY] --background'
        : table(
            ['ID', 'ENTITY', 'STATE', 'PROGRESS', 'STARTED', 'DURATION'],
            d.runs.map((r) => [
              r.id,
              r.entity ?? '(all)',
              r.state,
              `${r.processed}/${r.total}${r.total ? ` (${((100 * r.processed) / r.total).toFixed(0)}%)` : ''}`,
              r.startedAt ?? '',
              r.startedAt ? seconds(duration(r, now)) : '',
            ]),
          ),
  };
}
