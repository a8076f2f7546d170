import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import { appCommand } from '../../../test-support/appCommand.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLI = [process.execPath, ...appCommand('cli')];
const N = 4000;

// The openai provider on the local wire-format server: its answer delay keeps
// a run going long enough to be cancelled (vector writes themselves are fast).
test.override('pipelineOptions', { workers: 1, openai: true, env: { KDB_EMBEDDING_MAX_INPUTS: '200' } });

describe('kameleondb embeddings … against a running API and worker', () => {
  let p: Pipeline;
  let db: TestDatabase;
  let apiUrl: string;
  const env = () => ({ PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', KDB_API_URL: apiUrl });

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(CLI[0]!, [...CLI.slice(1), ...args], { cwd: ROOT, env: env() }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
  /** Makes `count` rows stale, so a reindex has real writes to do. */
  const staleRows = async (count: number, tag: string) => {
    await db.pool.query(
      `UPDATE kdb_search SET content = content || $2, content_hash = encode(sha256(convert_to(content || $2, 'UTF8')), 'hex')
        WHERE record_id IN (SELECT record_id FROM kdb_search ORDER BY random() LIMIT $1)`,
      [count, tag],
    );
  };

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    db = p.db;
    apiUrl = p.api.url;
    await p.call('POST', '/v1/entities', { name: 'docs', fields: { title: 'text' }, embedFields: ['title'] });
    expect((await p.call('POST', '/v1/entities/docs/records?wait=true', Array.from({ length: N }, (_, i) => ({ title: `document ${i}` })))).body.done).toBe(true);
  });

  it('dry-runs, starts a background run, and follows it with status --watch', async () => {
    await staleRows(300, ' x');
    const dry = await cli(['embeddings', 'reindex', 'docs', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ rows: 300, textsToEmbed: 300, providerRequests: 2, estimatedCostUsd: expect.any(Number) });
    expect((await cli(['embeddings', 'reindex', 'docs', '--dry-run'])).stdout).toMatch(/rows to process 300; distinct texts 300, already cached 0, to embed 300/);

    const bg = await cli(['embeddings', 'reindex', 'docs', '--background', '--json']);
    expect(bg.code).toBe(0);
    const { id } = JSON.parse(bg.stdout) as { id: string };
    const watched = await cli(['embeddings', 'status', id, '--watch', '--json']);
    expect(watched.code).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({ id, state: 'completed', processed: 300, embedded: 300 });
    const human = await cli(['embeddings', 'status', id]);
    expect(human.stdout).toMatch(new RegExp(`run ${id}: completed, entity docs\\nprocessed 300/300 \\(100.0%\\): embedded 300, from cache 0`));
    const status = await cli(['embeddings', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ activeRuns: [], entities: [{ entity: 'docs', indexed: N, total: N }] });
    expect((await cli(['embeddings', 'status'])).stdout).toMatch(/vector index: \d+ HNSW segment\(s\)[^\n]*, \d+ vector\(s\) not yet in a segment \(searched exactly\)[\s\S]*no active reindex run/);
  });

  it('cancels the active run without an id, and says when there is none', async () => {
    await staleRows(3000, ' y');
    p.fake!.delayMs = 300; // 15 requests: ~4.5 s of work
    const { id } = JSON.parse((await cli(['embeddings', 'reindex', '--background', '--json'])).stdout) as { id: string };
    const cancelled = await cli(['embeddings', 'cancel', '--json']);
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id, state: 'cancelled' });
    const none = await cli(['embeddings', 'cancel']);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toBe('error: no active reindex run to cancel\n');
    expect((await cli(['embeddings', 'status', 'not-a-run'])).stderr).toMatch(/reindex run "not-a-run" does not exist/);
  });

  it('shows a live progress bar in a terminal and exits 0 when the run completes', async () => {
    await staleRows(1500, ' z');
    p.fake!.delayMs = 0;
    // `script` gives the command a pseudo-terminal.
    const cmd = [...CLI, 'embeddings', 'reindex', 'docs'].map((a) => `'${a}'`).join(' ');
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { ...env(), TERM: 'xterm' } }, (err, stdout) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, text: stdout }),
      );
    });
    expect(out.code).toBe(0);
    expect(out.text).toMatch(/[=-]{30} \d+% \| \d+\/\d+ rows \| [\d.]+ rows\/s \| ETA \S+ \| cache hits \d+ \| (planning|running)/);
    expect(out.text).toMatch(/run \S+: completed, entity docs/);
  });

  it('cancels the run on Ctrl-C, says so, and exits non-zero', async () => {
    await staleRows(3000, ' w');
    p.fake!.delayMs = 300;
    const child = spawn(CLI[0]!, [...CLI.slice(1), 'embeddings', 'reindex', 'docs'], { cwd: ROOT, env: env() });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    // Ctrl-C once the CLI has created its run (it listens for SIGINT from then on):
    // a fixed delay lost the race on a loaded machine.
    const deadline = Date.now() + 30_000;
    while (Number((await db.pool.query(`SELECT count(*) FROM kdb_reindex_runs WHERE finished_at IS NULL`)).rows[0].count) === 0) {
      if (Date.now() > deadline) throw new Error('the CLI never created its run');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const code = await exited;
    p.fake!.delayMs = 0;
    expect(code).toBe(1);
    expect(stdout).toMatch(/^interrupted: the run was cancelled\nrun \S+: cancelled/);
    const status = JSON.parse((await cli(['embeddings', 'status', '--json'])).stdout) as { activeRuns: unknown[] };
    expect(status.activeRuns).toEqual([]);
  });

  it('reports and clears the cache; bad durations and commands are usage errors (exit 2)', async () => {
    const status = await cli(['embeddings', 'cache', 'status', '--json']);
    const data = JSON.parse(status.stdout) as { entries: number; models: { modelKey: string }[] };
    expect(data.entries).toBeGreaterThanOrEqual(N);
    expect(data.models[0]!.modelKey).toBe('openai:text-embedding-3-small:384');
    expect((await cli(['embeddings', 'cache', 'status'])).stdout).toMatch(/^\d+ entries, [\d.]+ MB on disk; hit rate/);
    await db.pool.query(`UPDATE kdb_embedding_cache_usage SET last_used_at = now() - interval '31 days' WHERE text_hash IN (SELECT text_hash FROM kdb_embedding_cache_usage LIMIT 25)`);
    const cleared = await cli(['embeddings', 'cache', 'clear', '--older-than', '30d', '--json']);
    expect(JSON.parse(cleared.stdout)).toEqual({ deleted: 25, olderThan: '30d', model: null });
    const bad = await cli(['embeddings', 'cache', 'clear', '--older-than', '30x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--older-than <duration>' argument '30x' is invalid. use a number and a unit/);
    expect((await cli(['embeddings', 'frobnicate'])).code).toBe(2);
    expect((await cli(['--help'])).code).toBe(0);
  });
});
