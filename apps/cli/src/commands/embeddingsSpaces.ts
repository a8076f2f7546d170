import type { KameleonClient, SpaceList, SpaceView } from '@kameleondb/client';
import { table, type CommandResult } from '../output.js';

/** `embedded/total (pct%)` of a space. */
export const coverage = (s: Pick<SpaceView, 'embedded' | 'total'>) => `${s.embedded}/${s.total}${s.total ? ` (${((100 * s.embedded) / s.total).toFixed(0)}%)` : ''}`;

/** `embeddings spaces`: every embedding space, its state, coverage and build run. */
export async function embeddingsSpaces(api: KameleonClient): Promise<CommandResult<SpaceList>> {
  const data = await api.spaces.list();
  return {
    data,
    human: (d) =>
      [
        table(
          ['KEY', 'STATE', 'PROVIDER/MODEL/DIMS', 'EMBEDDED/TOTAL', 'BUILD RUN'],
          d.spaces.map((s) => [s.modelKey, s.state, `${s.provider}/${s.model}/${s.dimensions}`, coverage(s), s.buildRun ? `${s.buildRun.id} ${s.buildRun.state}` : '-']),
        ),
        '',
        d.active ? `search uses ${d.active}` : 'no active space yet (the first process to start seeds it from KDB_EMBEDDING_*)',
      ].join('\n'),
  };
}
