import type { EmbeddingStatus, KameleonClient } from '@kameleondb/client';
import { table, type CommandResult } from '../output.js';
import { describeRun, followRun, type Run } from '../reindexRun.js';

type Status = EmbeddingStatus;

/** Without a run id: the active space, spaces this API cannot build, per-entity counts and active runs. With one: that run (`--watch` follows it). */
export async function embeddingsStatus(api: KameleonClient, runId: string | undefined, opts: { watch: boolean; progress: boolean }): Promise<CommandResult<Status | Run>> {
  if (runId) {
    const run = opts.watch ? await followRun(api, runId, { progress: opts.progress }) : await api.reindex.get(runId);
    return { data: run, human: (r) => describeRun(r as Run) };
  }
  const data = await api.embeddings.status();
  return {
    data,
    human: (d) => {
      const s = d as Status;
      return [
        `active space ${s.space}: provider ${s.provider}, model ${s.model}, ${s.dimensions} dimensions`,
        // A process that cannot build a space's provider puts that space's jobs back: it must be seen.
        ...s.spaceProblems.map((p) => `problem: space ${p.space}: ${p.error}`),
        '',
        table(
          ['ENTITY', 'INDEXED', 'PENDING', 'FAILED', 'STALE', 'TOTAL'],
          s.entities.map((e) => [e.entity, e.indexed, e.pending, e.failed, e.stale, e.total]),
        ),
        '',
        `vector index: ${s.vectorIndex.segments.length} HNSW segment(s)` +
          (s.vectorIndex.segments.length ? ` of ${s.vectorIndex.segments.map((x) => x.rows).join(' + ')} rows` : '') +
          `, ${s.vectorIndex.hotRows} vector(s) not yet in a segment (searched exactly)` +
          (s.vectorIndex.building ? ', a segment build in progress' : ''),
        // Absent from an API older than search replicas.
        ...((s.replicas ?? []).length
          ? [
              '',
              table(
                ['SEARCH REPLICA', 'IN ROTATION', 'LAG BYTES', 'LAG S', 'REPLAYED', 'WHY OUT'],
                s.replicas.map((r) => [r.name, r.inRotation ? 'yes' : 'no', r.lagBytes ?? '?', r.lagSeconds === null ? '?' : r.lagSeconds.toFixed(1), r.replayLsn ?? '?', r.reason ?? '']),
              ),
            ]
          : []),
        ...(s.activeRuns === null
          ? ['', `warning: ${s.warning ?? 'active reindex runs are unknown'}`]
          : s.activeRuns.length
            ? ['', 'active reindex runs:', ...s.activeRuns.map(describeRun)]
            : ['', 'no active reindex run']),
      ].join('\n');
    },
  };
}
