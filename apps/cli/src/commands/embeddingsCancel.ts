import { CliError, type ApiClient } from '../ApiClient.js';
import type { CommandResult } from '../output.js';
import { describeRun, type Run } from '../reindexRun.js';

/** Cancels a run (by default the only active one) and reports its final counts. */
export async function embeddingsCancel(api: ApiClient, runId: string | undefined): Promise<CommandResult<Run>> {
  let id = runId;
  if (!id) {
    const { activeRuns, warning } = await api.request<{ activeRuns: Run[] | null; warning?: string }>('GET', 'v1/embeddings/status');
    if (activeRuns === null) throw new CliError(`cannot tell which run is active (${warning ?? 'Redis did not answer'}); name the run id`);
    if (activeRuns.length === 0) throw new CliError('no active reindex run to cancel');
    if (activeRuns.length > 1) throw new CliError(`several reindex runs are active; name one: ${activeRuns.map((r) => r.id).join(', ')}`);
    id = activeRuns[0]!.id;
  }
  const run = await api.request<Run>('POST', `v1/reindex/${encodeURIComponent(id)}/cancel`);
  return { data: run, human: (r) => describeRun(r) };
}
