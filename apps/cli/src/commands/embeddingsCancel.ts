import type { KameleonClient } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';
import { describeRun, type Run } from '../reindexRun.js';

/** Cancels a run (by default the only active one) and reports its final counts. */
export async function embeddingsCancel(api: KameleonClient, runId: string | undefined): Promise<CommandResult<Run>> {
  let id = runId;
  if (!id) {
    const { activeRuns, warning } = await api.embeddings.status();
    if (activeRuns === null) throw new CliError(`cannot tell which run is active (${warning ?? 'Redis did not answer'}); name the run id`);
    if (activeRuns.length === 0) throw new CliError('no active reindex run to cancel');
    if (activeRuns.length > 1) throw new CliError(`several reindex runs are active; name one: ${activeRuns.map((r) => r.id).join(', ')}`);
    id = activeRuns[0]!.id;
  }
  const run = await api.reindex.cancel(id);
  return { data: run, human: (r) => describeRun(r) };
}
