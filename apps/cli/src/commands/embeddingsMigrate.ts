import type { EmbeddingSpace, KameleonClient, SpaceBuild, SpaceDryRun, SpaceRequest, SpaceView } from '@kameleondb/client';
import type { CommandResult } from '../output.js';
import { describeRun, followRun, isOver, type Run } from '../reindexRun.js';
import { coverage } from './embeddingsSpaces.js';

export interface MigrateOptions {
  provider: SpaceRequest['provider'];
  model: string;
  dimensions: number;
  baseUrl?: string | undefined;
  /** Build only: switch later with `embeddings activate`. */
  manual: boolean;
  dryRun: boolean;
  background: boolean;
  progress: boolean;
  /** How long to wait for the switch once the build run has completed, in ms (default 10 min). */
  switchTimeoutMs?: number;
  intervalMs?: number;
}

/** The end of a followed migration: the space as listed, its build run, and whether search uses it. */
export interface MigrateResult {
  space: SpaceView | EmbeddingSpace;
  run: Run;
  active: boolean;
}

function describeDryRun(d: SpaceDryRun): string {
  return [
    `dry run for space ${d.space}${d.exists ? ' (it exists: what is embedded already is skipped)' : ''}:`,
    `rows ${d.rows}; distinct texts ${d.distinctTexts}, already cached ${d.cachedTexts}, to embed ${d.textsToEmbed}`,
    `estimated tokens ${d.estimatedTokens} in ${d.providerRequests} provider requests${d.estimatedCostUsd === null ? '' : `, cost ≈ $${d.estimatedCostUsd.toFixed(4)}`}`,
  ].join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `embeddings migrate`: builds a new embedding space (search stays on the
 * active one meanwhile) and, in the foreground, follows its build run, then
 * waits for the switch unless --manual. Ctrl-C during the build cancels the
 * run: the space stays `building` and the same command resumes it. The
 * build is the server's: if the CLI dies instead, it goes on and switches.
 */
export async function embeddingsMigrate(api: KameleonClient, opts: MigrateOptions): Promise<CommandResult<SpaceDryRun | SpaceBuild | MigrateResult>> {
  const body: SpaceRequest = {
    provider: opts.provider,
    model: opts.model,
    dimensions: opts.dimensions,
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    activate: opts.manual ? 'manual' : 'auto',
  };
  if (opts.dryRun) {
    const report = await api.spaces.dryRun(body);
    return { data: report, human: (d) => describeDryRun(d as SpaceDryRun) };
  }
  const build = await api.spaces.create(body);
  const key = build.space.modelKey;
  if (opts.background) {
    return {
      data: build,
      human: () => `building space ${key} in run ${build.run.id}\nfollow it: kameleondb embeddings status ${build.run.id} --watch; then kameleondb embeddings spaces`,
    };
  }
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once('SIGINT', onSigint);
  let run: Run;
  let listed: { space: SpaceView | undefined; active: boolean };
  let note = '';
  try {
    run = await followRun(api, build.run.id, { progress: opts.progress, signal: interrupted.signal, ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}) });
    if (interrupted.signal.aborted && !isOver(run)) {
      run = await api.reindex.cancel(build.run.id);
      note = `interrupted: the build was cancelled; search stays on the active space. Run the same command again to resume it.\n`;
    }
    const look = async () => {
      const l = await api.spaces.list();
      return { space: l.spaces.find((s) => s.modelKey === key), active: l.active === key };
    };
    listed = await look();
    // The workers switch within about a second of the run's end; rows written meanwhile may need embedding first.
    if (run.state === 'completed' && !opts.manual && !listed.active) {
      if (opts.progress) process.stderr.write(`build run completed; waiting for the switch to ${key}…\n`);
      const deadline = Date.now() + (opts.switchTimeoutMs ?? 600_000);
      while (!listed.active && listed.space?.state === 'building' && Date.now() < deadline && !interrupted.signal.aborted) {
        await sleep(opts.intervalMs ?? 250);
        listed = await look();
      }
      if (!listed.active) note = `the build completed but search does not use ${key} yet: see kameleondb embeddings spaces\n`;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  const data: MigrateResult = { space: listed.space ?? build.space, run, active: listed.active };
  const ok = run.state === 'completed' && (opts.manual || listed.active);
  return {
    data,
    human: (d) => {
      const m = d as MigrateResult;
      const s = m.space;
      const tail = m.active
        ? `space ${s.modelKey} is active: search uses it`
        : opts.manual && m.run.state === 'completed'
          ? `space ${s.modelKey} is built (${'embedded' in s ? coverage(s) : 'see kameleondb embeddings spaces'}); switch with: kameleondb embeddings activate ${s.modelKey}`
          : `space ${s.modelKey} is ${s.state}`;
      return `${note}${describeRun(m.run)}\n${tail}`;
    },
    exitCode: ok ? 0 : 1,
  };
}
