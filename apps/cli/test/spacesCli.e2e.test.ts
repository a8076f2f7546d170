import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import { until } from '../../../test-support/http.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { appCommand } from '../../../test-support/appCommand.js';
import { runCli } from './runCli.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const N = 800;
const OLD = 'hash:feature-hash-v1:384';
// The hash provider needs no key and has one model: the other spaces differ in size.
const NEW = 'hash:feature-hash-v1:256';
const MANUAL = 'hash:feature-hash-v1:128';

test.override('pipelineOptions', { workers: 1 });

describe('kameleondb embeddings spaces|migrate|activate|drop against a running API and worker', () => {
  let p: Pipeline;
  const cli = (args: string[]) => runCli(args, { KDB_API_URL: p.api.url });
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json']);
    return { ...r, data: JSON.parse(r.stdout) as Record<string, unknown> };
  };
  const searchSpace = async () => ((await json(['search', 'ticket about billing', '-e', 'tickets'])).data as { space: string }).space;

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    await p.call('POST', '/v1/entities', { name: 'tickets', fields: { subject: 'text' }, embedFields: ['subject'] });
    const subjects = ['billing', 'delivery', 'login', 'refund'];
    const inserted = await p.call('POST', '/v1/entities/tickets/records?wait=true', Array.from({ length: N }, (_, i) => ({ subject: `ticket ${i} about ${subjects[i % 4]}` })));
    expect(inserted.body.done).toBe(true);
  });

  test('lists the one space, dry-runs a migration, and refuses bad flags with exit 2 naming the flag', async () => {
    const listed = await json(['embeddings', 'spaces']);
    expect(listed).toMatchObject({ code: 0, data: { active: OLD, spaces: [{ modelKey: OLD, state: 'active', embedded: N, total: N }] } });
    const human = await cli(['embeddings', 'spaces']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^KEY\\s+STATE\\s+PROVIDER/MODEL/DIMS\\s+EMBEDDED/TOTAL\\s+BUILD RUN\\n${OLD}\\s+active\\s+hash/feature-hash-v1/384\\s+${N}/${N} \\(100%\\)\\s+-\\n\\nsearch uses ${OLD}\\n$`));

    const dry = await json(['embeddings', 'migrate', '--provider', 'hash', '--model', 'feature-hash-v1', '--dimensions', '256', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, data: { space: NEW, exists: false, rows: N, distinctTexts: N, cachedTexts: 0, textsToEmbed: N, providerRequests: expect.any(Number) as unknown } });
    const dryHuman = await cli(['embeddings', 'migrate', '--provider', 'hash', '--model', 'feature-hash-v1', '--dimensions', '256', '--dry-run']);
    expect(dryHuman.code).toBe(0);
    expect(dryHuman.stdout).toMatch(new RegExp(`^dry run for space ${NEW}:\\nrows ${N}; distinct texts ${N}, already cached 0, to embed ${N}\\nestimated tokens \\d+ in \\d+ provider requests`));
    // A dry run changes nothing.
    expect((await json(['embeddings', 'spaces'])).data.spaces).toHaveLength(1);

    const bad = await cli(['embeddings', 'migrate', '--provider', 'hash', '--model', 'feature-hash-v1', '--dimensions', '25x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/option '--dimensions <n>' argument '25x' is invalid\. must be a whole number from 1 to 2000/);
    const badJson = await json(['embeddings', 'migrate', '--provider', 'hash', '--model', 'feature-hash-v1', '--dimensions', '5000']);
    expect(badJson).toMatchObject({ code: 2, data: { status: 'error', code: 'usage', error: expect.stringMatching(/--dimensions/) as unknown } });
    const badProvider = await json(['embeddings', 'migrate', '--provider', 'cohere', '--model', 'm', '--dimensions', '8']);
    expect(badProvider).toMatchObject({ code: 2, data: { code: 'usage', error: expect.stringMatching(/--provider.*hash, openai, fastembed/) as unknown } });
    expect((await cli(['embeddings', 'migrate', '--provider', 'hash', '--dimensions', '8'])).code).toBe(2);
    // A model the provider does not have is the server's refusal (exit 1), naming it.
    const unknownModel = await json(['embeddings', 'migrate', '--provider', 'hash', '--model', 'no-such-model', '--dimensions', '8']);
    expect(unknownModel).toMatchObject({ code: 1, data: { status: 'error', error: expect.stringMatching(/no-such-model/) as unknown } });
    expect((await json(['embeddings', 'spaces'])).data.spaces).toHaveLength(1);
  });

  test('migrates in the foreground until the switch; search then reports the new space', async () => {
    expect(await searchSpace()).toBe(OLD);
    const migrated = await json(['embeddings', 'migrate', '--provider', 'hash', '--model', 'feature-hash-v1', '--dimensions', '256']);
    expect(migrated.stderr).toBe('');
    expect(migrated).toMatchObject({ code: 0, data: { active: true, run: { state: 'completed', space: NEW, total: N }, space: { modelKey: NEW, state: 'active', embedded: N, total: N } } });
    // API processes re-read the spaces at most every 300 ms.
    await until(async () => (await searchSpace()) === NEW, 5_000, 100);
    const human = await cli(['search', 'ticket about billing', '-e', 'tickets', '-n', '3']);
    expect(human.stdout).toMatch(new RegExp(`3 results, hybrid, [\\d.]+ ms, space ${NEW}\\n$`));
    const status = await cli(['embeddings', 'status']);
    expect(status.stdout).toMatch(new RegExp(`^active space ${NEW}: provider hash, model feature-hash-v1, 256 dimensions\\n`));
    expect((await json(['embeddings', 'status'])).data).toMatchObject({ space: NEW, spaceProblems: [] });
  });

  test('builds with --manual on a terminal with a live progress bar, and leaves search where it was', async () => {
    // `script` gives the command a pseudo-terminal.
    const cmd = [process.execPath, ...appCommand('cli'), 'embeddings', 'migrate', '--provider', 'hash', '--model', 'feature-hash-v1', '--dimensions', '128', '--manual']
      .map((a) => `'${a}'`)
      .join(' ');
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', KDB_API_URL: p.api.url, TERM: 'xterm' } }, (err, stdout) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, text: stdout }),
      );
    });
    expect(out.code).toBe(0);
    expect(out.text).toMatch(/[=-]{30} \d+% \| \d+\/\d+ rows \| [\d.]+ rows\/s \| ETA \S+ \| cache hits \d+ \| (queued|planning|running|completed)/);
    expect(out.text).toMatch(new RegExp(`run \\S+: completed[\\s\\S]*space ${MANUAL} is built \\(${N}/${N} \\(100%\\)\\); switch with: kameleondb embeddings activate ${MANUAL}`));
    expect(await searchSpace()).toBe(NEW);

    const listed = await json(['embeddings', 'spaces']);
    expect(listed.data).toMatchObject({
      active: NEW,
      spaces: expect.arrayContaining([
        expect.objectContaining({ modelKey: OLD, state: 'retired' }),
        expect.objectContaining({ modelKey: NEW, state: 'active', embedded: N, buildRun: expect.objectContaining({ state: 'completed' }) }),
        expect.objectContaining({ modelKey: MANUAL, state: 'building', activate: 'manual', embedded: N }),
      ]) as unknown,
    });
    const human = (await cli(['embeddings', 'spaces'])).stdout;
    expect(human).toMatch(new RegExp(`${OLD}\\s+retired\\s+hash/feature-hash-v1/384`));
    expect(human).toMatch(new RegExp(`${NEW}\\s+active\\s+hash/feature-hash-v1/256\\s+${N}/${N} \\(100%\\)\\s+\\S+ completed`));
    expect(human).toMatch(new RegExp(`${MANUAL}\\s+building\\s+hash/feature-hash-v1/128`));
  });

  test('activates the old space back, then drops the others (confirmed by --yes off a terminal)', async () => {
    const back = await json(['embeddings', 'activate', OLD]);
    expect(back).toMatchObject({ code: 0, data: { modelKey: OLD, state: 'active' } });
    await until(async () => (await searchSpace()) === OLD, 5_000, 100);
    expect((await cli(['embeddings', 'activate', OLD])).stdout).toBe(`space ${OLD} is active: every API process serves it within a second\n`);
    const unknown = await json(['embeddings', 'activate', 'hash:nope:9']);
    expect(unknown).toMatchObject({ code: 1, data: { status: 'error', code: 'not_found' } });

    const unconfirmed = await json(['embeddings', 'drop', NEW]);
    expect(unconfirmed).toMatchObject({ code: 2, data: { status: 'error', code: 'usage', error: expect.stringMatching(/--yes/) as unknown } });
    expect((await json(['embeddings', 'spaces'])).data.spaces).toHaveLength(3);
    expect(await json(['embeddings', 'drop', NEW, '--yes'])).toMatchObject({ code: 0, data: { dropped: NEW } });
    expect(await cli(['embeddings', 'drop', MANUAL, '-y'])).toMatchObject({ code: 0, stdout: `dropped space ${MANUAL}\n` });
    const active = await cli(['embeddings', 'drop', OLD, '--yes']);
    expect(active.code).toBe(1);
    expect(active.stderr).toMatch(/HTTP 409/);
    const gone = await json(['embeddings', 'drop', NEW, '--yes']);
    expect(gone).toMatchObject({ code: 1, data: { code: 'not_found' } });
    expect((await json(['embeddings', 'spaces'])).data).toMatchObject({ active: OLD, spaces: [{ modelKey: OLD, state: 'active' }] });
    expect(await searchSpace()).toBe(OLD);
  });

  test('starts a build with --background and returns at once with the space and its run', async () => {
    const bg = await json(['embeddings', 'migrate', '--provider', 'hash', '--model', 'feature-hash-v1', '--dimensions', '64', '--manual', '--background']);
    expect(bg).toMatchObject({ code: 0, data: { space: { modelKey: 'hash:feature-hash-v1:64', state: 'building', activate: 'manual' }, run: { space: 'hash:feature-hash-v1:64' } } });
    const runId = (bg.data.run as { id: string }).id;
    const watched = await json(['embeddings', 'status', runId, '--watch']);
    expect(watched).toMatchObject({ code: 0, data: { id: runId, state: 'completed', total: N } });
    expect(await searchSpace()).toBe(OLD);
    expect(await json(['embeddings', 'drop', 'hash:feature-hash-v1:64', '--yes'])).toMatchObject({ code: 0 });
  });
});
