import type { KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

/** `embeddings jobs --clean --older-than 7d`: deletes finished runs that ended before then; live runs stay. */
export async function embeddingsJobsClean(api: KameleonClient, opts: { olderThan: string }): Promise<CommandResult<{ deleted: number; olderThan: string }>> {
  const { deleted } = await api.reindex.clean({ olderThan: opts.olderThan });
  return { data: { deleted, olderThan: opts.olderThan }, human: (d) => `deleted ${d.deleted} finished reindex run(s) older than ${d.olderThan}` };
}
