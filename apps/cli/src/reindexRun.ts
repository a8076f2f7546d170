import type { KameleonClient, ReindexRun } from '@kameleondb/client';
import { SingleBar } from 'cli-progress';
import { seconds } from './output.js';

/** A reindex run as the API reports it (the type only: the CLI talks HTTP). */
export type Run = ReindexRun;

export const isOver = (r: Run) => r.state === 'completed' || r.state === 'cancelled' || r.state === 'failed';

export function describeRun(r: Run): string {
  const pct = r.total ? ` (${((100 * r.processed) / r.total).toFixed(1)}%)` : '';
  const hitRate = r.embedded + r.cached ? ` (cache hit rate ${((100 * r.cached) / (r.embedded + r.cached)).toFixed(1)}%)` : '';
  return [
    `run ${r.id}: ${r.state}, ${r.entity ? `entity ${r.entity}` : 'all entities'}${r.force ? ', forced' : ''}${r.recompute ? ', texts recomputed' : ''}`,
    `processed ${r.processed}/${r.total}${pct}: embedded ${r.embedded}, from cache ${r.cached}${hitRate}, failed ${r.failed}`,
    `rate ${r.rate} rows/s${isOver(r) ? '' : `, ETA ${seconds(r.etaSeconds)}`}${r.startedAt ? `, started ${r.startedAt}` : ''}${r.finishedAt ? `, finished ${r.finishedAt}` : ''}`,
    ...(r.error ? [`error: ${r.error}`] : []),
  ].join('\n');
}

/**
 * Polls a run until it ends. On a TTY a progress bar shows processed/total,
 * rate, ETA and cache hits; `stop()` (Ctrl-C) makes it return early.
 */
export async function followRun(api: KameleonClient, id: string, opts: { progress: boolean; intervalMs?: number; signal?: AbortSignal }): Promise<Run> {
  const bar = opts.progress
    ? new SingleBar({
        format: ' {bar} {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_s} | cache hits {cached} | {state}',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        barsize: 30,
      })
    : null;
  let run = await api.reindex.get(id);
  bar?.start(Math.max(run.total, 1), run.processed, { rate: run.rate, eta_s: seconds(run.etaSeconds), cached: run.cached, state: run.state });
  while (!isOver(run) && !opts.signal?.aborted) {
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
    run = await api.reindex.get(id);
    bar?.setTotal(Math.max(run.total, 1));
    bar?.update(run.processed, { rate: run.rate, eta_s: seconds(run.etaSeconds), cached: run.cached, state: run.state });
  }
  bar?.stop();
  return run;
}
