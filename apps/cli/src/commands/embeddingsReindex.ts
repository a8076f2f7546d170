import type { DryRunReport, KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';
import { describeRun, followRun, isOver, type Run } from '../reindexRun.js';

export interface ReindexOptions {
  force: boolean;
  background: boolean;
  dryRun: boolean;
  progress: boolean;
}

type DryRun = DryRunReport;

function describeDryRun(d: DryRun): string {
  return [
    `dry run for ${d.entity ? `entity ${d.entity}` : 'all entities'} with ${d.modelKey}:`,
    `rows to process ${d.rows}; distinct texts ${d.distinctTexts}, already cached ${d.cachedTexts}, to embed ${d.textsToEmbed}`,
    `estimated tokens ${d.estimatedTokens} in ${d.providerRequests} provider requests${d.estimatedCostUsd === null ? '' : `, cost ≈ $${d.estimatedCostUsd.toFixed(4)}`}`,
  ].join('\n');
}

/**
 * Starts a reindex run. In the foreground it follows the run; Ctrl-C
 * cancels it (and the command exits 1, as for any run that did not complete).
 */
export async function embeddingsReindex(api: KameleonClient, entity: string | undefined, opts: ReindexOptions): Promise<CommandResult<Run | DryRun>> {
  const body = { ...(entity ? { entity } : {}), force: opts.force };
  if (opts.dryRun) {
    const report = await api.reindex.dryRun(body);
    return { data: report, human: (d) => describeDryRun(d as DryRun) };
  }
  const run = await api.reindex.start(body);
  if (opts.background) {
    return {
      data: run,
      human: (r) => `started reindex run ${(r as Run).id}\nfollow it: kameleondb embeddings status ${(r as Run).id} --watch`,
    };
  }
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once('SIGINT', onSigint);
  let final: Run;
  try {
    final = await followRun(api, run.id, { progress: opts.progress, signal: interrupted.signal });
  } finally {
    process.off('SIGINT', onSigint);
  }
  let note = '';
  if (interrupted.signal.aborted && !isOver(final)) {
    final = await api.reindex.cancel(run.id);
    note = 'interrupted: the run was cancelled\n';
  }
  return { data: final, human: (r) => `${note}${describeRun(r as Run)}`, exitCode: final.state === 'completed' ? 0 : 1 };
}
