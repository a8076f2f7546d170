import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { runCli, type CliRun } from './runCli.js';

const KEY = 'cli-lines-key-0123456789';

test.override('pipelineOptions', { workers: 1, env: { KDB_API_KEY: KEY } });

interface StoredRecord {
  id: string;
  entity: string;
  data: Record<string, unknown>;
  embedding: { status: string };
}

/** KameleonDB's search, records and embeddings lines, each run as text and as --json, each checking its exit code. */
describe('kameleondb lines as KameleonDB writes them, against a running API and worker', () => {
  let p: Pipeline;
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { KDB_API_URL: p.api.url, KDB_API_KEY: KEY, ...env });
  /** Runs the line twice, as text and with --json; both must exit with `code`. */
  const both = async (args: string[], code = 0): Promise<{ human: CliRun; json: CliRun; data: unknown }> => {
    const [human, json] = [await cli(args), await cli([...args, '--json'])];
    expect(human.code, `${args.join(' ')}: ${human.stderr}`).toBe(code);
    expect(json.code, `${args.join(' ')} --json: ${json.stdout}`).toBe(code);
    return { human, json, data: JSON.parse(json.stdout) as unknown };
  };
  /** A usage error: exit 2, commander's message on stderr, or the error document alone on stdout with --json. */
  const usage = async (args: string[], message: RegExp) => {
    const { human, json, data } = await both(args, 2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(message);
    expect(json.stderr).toBe('');
    expect(data).toEqual({ status: 'error', error: expect.stringMatching(message) as unknown, code: 'usage' });
  };

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    await p.call('POST', '/v1/entities', { name: 'tickets', fields: { subject: 'text', status: 'string' }, embedFields: ['subject'] });
    const subjects = ['customer complaint about billing', 'customer complaint about delivery', 'feature request: dark mode', 'customer praise', 'login fails'];
    const inserted = await p.call('POST', '/v1/entities/tickets/records?wait=true', subjects.map((subject, i) => ({ subject, status: i % 2 ? 'closed' : 'open' })));
    expect(inserted.body.done).toBe(true);
  });

  it('search QUERY -e ENTITY -n N -t T -w JSON --mode, and the long flags', async () => {
    const { human, data } = await both(['search', 'customer complaint', '-e', 'tickets', '-n', '2', '-t', '0', '-w', '{"status":"open"}', '--mode', 'keyword']);
    const answer = data as { results: { entity: string; data: { status: string } }[]; mode: string };
    expect(answer.mode).toBe('keyword');
    expect(answer.results.length).toBeGreaterThan(0);
    expect(answer.results.length).toBeLessThanOrEqual(2);
    expect(answer.results.every((r) => r.entity === 'tickets' && r.data.status === 'open')).toBe(true);
    expect(human.stdout).toMatch(/^#\s+SCORE\s+ENTITY\s+ID\s+CONTENT\n1\s+[\d.]+\s+tickets\s+\S+\s+subject: customer complaint/);
    const long = await both(['search', 'customer complaint', '--entity', 'tickets', '--limit', '3', '--threshold', '0.0', '--where', '{"status":"closed"}', '--explain']);
    expect((long.data as { results: { data: { status: string } }[] }).results.every((r) => r.data.status === 'closed')).toBe(true);
    expect(long.human.stdout).toMatch(/RANKS/);
    // The positional entity form stays.
    expect(((await both(['search', 'tickets', 'login fails'])).data as { results: { entity: string }[] }).results[0]!.entity).toBe('tickets');
  });

  it('rejects bad numbers, JSON and choices as usage errors naming the flag (exit 2)', async () => {
    await usage(['search', 'x', '--threshold', 'x'], /option '-t, --threshold <score>' argument 'x' is invalid/);
    await usage(['search', 'x', '--limit', '1.5'], /option '-n, --limit <n>' argument '1.5' is invalid/);
    await usage(['search', 'x', '-n', 'abc'], /option '-n, --limit <n>' argument 'abc' is invalid/);
    await usage(['search', 'x', '-n', '101'], /argument '101' is invalid. must be a whole number from 1 to 100/);
    await usage(['search', 'x', '-w', '{oops'], /option '-w, --where <json>' argument '\{oops' is invalid. must be JSON/);
    await usage(['search', 'x', '--mode', 'fuzzy'], /argument 'fuzzy' is invalid. Allowed choices are hybrid, vector, keyword/);
    await usage(['search', 'customer', '--entity'], /option '-e, --entity <name>' argument missing/);
    await usage(['records', 'list', 'tickets', '--limit', '0'], /option '-n, --limit <n>' argument '0' is invalid/);
    await usage(['embeddings', 'jobs', '--limit', 'ten'], /option '-n, --limit <n>' argument 'ten' is invalid/);
    await usage(['records', 'update', 'tickets', 'some-id', '--data', '[1]'], /argument '\[1\]' is invalid. must be a JSON object/);
    await usage(['records', 'update', 'tickets', 'some-id'], /required option '--data <json>' not specified/);
    await usage(['records', 'frobnicate'], /unknown command 'frobnicate'/);
    await usage(['search', 'x', '--nope'], /unknown option '--nope'/);
  });

  it('records list ENTITY [--limit N], a page at a time', async () => {
    const all = (await both(['records', 'list', 'tickets'])).data as { records: StoredRecord[]; next: string | null };
    expect(all.records.map((r) => r.data.subject)).toEqual(['customer complaint about billing', 'customer complaint about delivery', 'feature request: dark mode', 'customer praise', 'login fails']);
    expect(all.next).toBeNull();
    const first = await both(['records', 'list', 'tickets', '--limit', '2']);
    const page = first.data as { records: StoredRecord[]; next: string };
    expect(page.records.map((r) => r.id)).toEqual(all.records.slice(0, 2).map((r) => r.id));
    expect(page.next).toBe(all.records[1]!.id);
    expect(first.human.stdout).toMatch(new RegExp(`^ID\\s+EMBEDDING\\s+UPDATED\\s+DATA\\n${all.records[0]!.id}\\s+ready\\s+\\S+\\s+\\{"status":"open","subject":"customer complaint about billing"`));
    expect(first.human.stdout).toMatch(new RegExp(`\\nmore: kameleondb records list tickets --limit 2 --after ${page.next}\\n$`));
    const second = (await both(['records', 'list', 'tickets', '-n', '2', '--after', page.next])).data as { records: StoredRecord[] };
    expect(second.records.map((r) => r.id)).toEqual(all.records.slice(2, 4).map((r) => r.id));
    const badCursor = await both(['records', 'list', 'tickets', '--after', 'nope'], 1);
    expect(badCursor.data).toMatchObject({ status: 'error', code: 'invalid_input', error: expect.stringMatching(/after must be a record id \(a UUID\); got "nope"/) as unknown });
    const missing = await both(['records', 'list', 'nosuch'], 1);
    expect(missing.data).toMatchObject({ status: 'error', code: 'not_found', error: expect.stringMatching(/nosuch/) as unknown });
    expect(missing.human.stderr).toMatch(/^error: .*nosuch.*\(not_found, HTTP 404\)/);
  });

  it('records get, update --data and delete ENTITY ID', async () => {
    const list = (await both(['records', 'list', 'tickets'])).data as { records: StoredRecord[] };
    const id = list.records[4]!.id;
    const got = await both(['records', 'get', 'tickets', id]);
    expect(got.data).toMatchObject({ id, entity: 'tickets', data: { subject: 'login fails', status: 'open' }, embedding: { status: 'ready' } });
    expect(got.human.stdout).toMatch(new RegExp(`^record ${id} of tickets: embedding ready`));

    const updated = await both(['records', 'update', 'tickets', id, '--data', '{"status":"closed"}']);
    expect(updated.data).toMatchObject({ id, reembed: false, data: { subject: 'login fails', status: 'closed' } });
    expect(updated.human.stdout).toMatch(new RegExp(`^updated record ${id} of tickets: its text is unchanged, the embedding stays`));
    const reworded = await cli(['records', 'update', 'tickets', id, '--data', '{"subject":"login fails on mobile"}', '--json']);
    expect(reworded.code).toBe(0);
    expect(JSON.parse(reworded.stdout)).toMatchObject({ reembed: true, data: { subject: 'login fails on mobile' } });
    const invalid = await both(['records', 'update', 'tickets', id, '--data', '{"subject":12}'], 1);
    expect(invalid.data).toMatchObject({ status: 'error', code: 'invalid_input', error: expect.stringMatching(/subject/) as unknown });

    // Deleting runs once per form: the second (human) run sees the record gone.
    const gone = await cli(['records', 'delete', 'tickets', id, '--json']);
    expect(gone.code).toBe(0);
    expect(JSON.parse(gone.stdout)).toEqual({ deleted: true, entity: 'tickets', id });
    const other = list.records[3]!.id;
    const humanDelete = await cli(['records', 'delete', 'tickets', other]);
    expect(humanDelete).toMatchObject({ code: 0, stdout: `deleted record ${other} of tickets\n`, stderr: '' });
    const after = await both(['records', 'get', 'tickets', id], 1);
    expect(after.data).toEqual({ status: 'error', code: 'not_found', error: expect.stringContaining(`record "${id}" of entity "tickets" does not exist`) as unknown });
    expect(after.human.stdout).toBe('');
    expect((await both(['records', 'delete', 'tickets', other], 1)).data).toMatchObject({ code: 'not_found' });
  });

  it('embeddings jobs [--limit N]: recent runs with id, entity, state, progress, started and duration', async () => {
    // Three records are left after the deletions above.
    const started = await cli(['embeddings', 'reindex', 'tickets', '--force', '--background', '--json']);
    expect(started.code).toBe(0);
    const { id } = JSON.parse(started.stdout) as { id: string };
    expect((await cli(['embeddings', 'status', id, '--watch', '--json'])).code).toBe(0);
    const second = JSON.parse((await cli(['embeddings', 'reindex', '--json'])).stdout) as { id: string; state: string };
    expect(second.state).toBe('completed');

    const { human, data } = await both(['embeddings', 'jobs', '--limit', '5']);
    const runs = (data as { runs: { id: string; entity: string | null; state: string; processed: number; total: number; startedAt: string }[] }).runs;
    expect(runs.map((r) => r.id)).toEqual([second.id, id]);
    expect(runs[1]).toMatchObject({ entity: 'tickets', state: 'completed', processed: 3, total: 3, startedAt: expect.any(String) as unknown });
    expect(human.stdout).toMatch(/^ID\s+ENTITY\s+STATE\s+PROGRESS\s+STARTED\s+DURATION\n/);
    expect(human.stdout).toMatch(new RegExp(`\\n${id}\\s+tickets\\s+completed\\s+3/3 \\(100%\\)\\s+\\S+\\s+\\d+s\\n`));
    expect(human.stdout).toMatch(new RegExp(`\\n${second.id}\\s+\\(all\\)\\s+completed\\s+`));
    expect(((await both(['embeddings', 'jobs', '-n', '1'])).data as { runs: unknown[] }).runs).toHaveLength(1);
  });

  it('reports a missing KDB_API_KEY as missing (exit 2), a wrong one as the 401 it is (exit 1)', async () => {
    const missing = await runCli(['entities', 'list'], { KDB_API_URL: p.api.url });
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/^error: KDB_API_KEY is not set: the API at \S+ requires an API key/);
    const missingJson = await runCli(['records', 'list', 'tickets', '--json'], { KDB_API_URL: p.api.url });
    expect(missingJson).toMatchObject({ code: 2, stderr: '' });
    expect(JSON.parse(missingJson.stdout)).toEqual({ status: 'error', code: 'missing_api_key', error: expect.stringMatching(/^KDB_API_KEY is not set/) as unknown });
    const wrong = await cli(['embeddings', 'jobs', '--json'], { KDB_API_KEY: 'wrong-key-0123456789' });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ status: 'error', code: 'unauthorized' });
    const unreachable = await cli(['embeddings', 'jobs', '--json'], { KDB_API_URL: 'http://127.0.0.1:65533' });
    expect(unreachable.code).toBe(1);
    expect(JSON.parse(unreachable.stdout)).toMatchObject({ status: 'error', code: 'unreachable', error: expect.stringMatching(/ECONNREFUSED/) as unknown });
    expect((await cli(['--help', '--json'])).code).toBe(0);
  });
});
