import type { AnalyzerRun, KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

/** `entities analyzer-run ID [--cancel]`: a postings rebuild's state and progress, or its cancel. */
export async function entitiesAnalyzerRun(api: KameleonClient, id: string, opts: { cancel?: boolean }): Promise<CommandResult<AnalyzerRun>> {
  const data = opts.cancel ? await api.analyzerRuns.cancel(id) : await api.analyzerRuns.get(id);
  return {
    data,
    human: (r) =>
      [
        `analyzer run ${r.id} for entity ${r.entity}: ${r.from} -> ${r.to}, ${r.state}${r.cancelRequested && r.state === 'running' ? ' (cancel requested)' : ''}`,
        `${r.processed} of ${r.total} records rebuilt${r.switchedAt ? `; searches switched at ${r.switchedAt}` : ''}${r.error ? `; error: ${r.error}` : ''}`,
      ].join('\n'),
  };
}
