import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';
import { until } from '../../../test-support/http.js';
import { KameleonClient } from '@kameleondb/client';
import { cacheClear } from '../src/commands/cacheClear.js';
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
    await usage(['records', 'update', 'tickets', 'some-id'], /give the fields to change as JSON: kameleondb records update ENTITY ID/);
    await usage(['records', 'update', 'tickets', 'some-id', '{"a":1}', '--data', '{"a":2}'], /give the fields once/);
    await usage(['records', 'update', 'tickets', 'some-id', '{oops'], /the fields must be JSON/);
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

/**
 * Lines of KameleonDB's docs/CLI.md (its search, embeddings and data sections,
 * and the agent examples) and of the Phase 3 plan, as written there: each is
 * split as a shell would, run as text and as --json, and checked.
 *
 * Lines not covered, and why:
 * - `data insert … --created-by TEXT`: this service keeps no audit trail of creators.
 * - `data list … --offset N`: pages are by cursor (`--after ID`, the "more:" line); an offset re-reads every row before it.
 * - `data delete … --force`, `data batch-delete … --force`: no relationships, so no RESTRICT rules to bypass.
 * - `data link`, `data unlink`, `data get-linked`: no many-to-many relationships in this service.
 * - `embeddings cancel` of a live run: the hash provider ends runs too fast to catch one here; it is
 *   covered (with the slowed local OpenAI server) in embeddingsCli.e2e.test.ts, and here its "nothing to cancel" answer.
 */
describe('KameleonDB docs/CLI.md lines, as the docs write them', () => {
  let p: Pipeline;
  let dir: string;
  /** `kameleondb a "b c" '{"d": 1}'` → ['a', 'b c', '{"d": 1}'] (quotes as a shell reads them). */
  const words = (line: string): string[] => {
    const out: string[] = [];
    const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
    for (const m of line.replace(/^kameleondb\s+/, '').matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]!);
    return out;
  };
  const cli = (args: string[]) => runCli(args, { KDB_API_URL: p.api.url, KDB_API_KEY: KEY });
  /** Runs the line as text (without any --json it has) and as JSON (adding --json when it has none); both must exit with `code`. */
  const line = async (text: string, code = 0): Promise<{ human: CliRun; json: CliRun; data: any }> => {
    const args = words(text);
    const plain = args.filter((a) => a !== '--json' && a !== '-j');
    const jsonArgs = plain.length === args.length ? [...args, '--json'] : args;
    const [human, json] = [await cli(plain), await cli(jsonArgs)];
    expect(human.code, `${text}: ${human.stderr}`).toBe(code);
    expect(json.code, `${text} (--json): ${json.stdout}${json.stderr}`).toBe(code);
    expect(json.stderr, text).toBe('');
    return { human, json, data: JSON.parse(json.stdout) };
  };
  /** Runs a line once, as written (lines that change data run once per form with their own input). */
  const once = async (text: string, code = 0): Promise<CliRun> => {
    const r = await cli(words(text));
    expect(r.code, `${text}: ${r.stdout}${r.stderr}`).toBe(code);
    return r;
  };
  const ids = async (entity: string): Promise<StoredRecord[]> => (await p.call('GET', `/v1/entities/${entity}/records?limit=1000`)).body.records;
  /** The shortest prefix (8 characters at least) of `id` that no other of `all` starts with: what a person would type. */
  const prefixOf = (id: string, all: readonly StoredRecord[]) => {
    for (let n = 8; n < id.length; n++) if (all.filter((r) => r.id.startsWith(id.slice(0, n))).length === 1) return id.slice(0, n);
    return id;
  };

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    dir = await mkdtemp(join(tmpdir(), 'kdb-lines-'));
    const entities = [
      { name: 'Contact', fields: [{ name: 'name', type: 'string', required: true }, { name: 'email', type: 'string', unique: true }, { name: 'status', type: 'string' }, { name: 'fax', type: 'string' }, { name: 'notes', type: 'text' }], embedFields: ['name', 'notes'] },
      { name: 'Ticket', fields: { subject: 'text', status: 'string', priority: 'string' }, embedFields: ['subject'] },
      { name: 'Article', fields: [{ name: 'title', type: 'string' }, { name: 'body', type: 'text' }], embedFields: ['title', 'body'] },
      { name: 'Memory', fields: { content: 'text', category: 'string' }, embedFields: ['content'] },
    ];
    for (const e of entities) expect((await p.call('POST', '/v1/entities', e)).status).toBe(201);
    const tickets = [
      { subject: 'bug report: checkout crashes', status: 'open', priority: 'high' },
      { subject: 'bug report: typo on the home page', status: 'open', priority: 'low' },
      { subject: 'bug report: export times out', status: 'closed', priority: 'high' },
      { subject: 'customer complaint about shipping delays', status: 'open', priority: 'high' },
      { subject: 'customer complaint about billing', status: 'closed', priority: 'low' },
    ];
    expect((await p.call('POST', '/v1/entities/Ticket/records?wait=true', tickets)).body.done).toBe(true);
    const articles = [
      { title: 'Python tutorial', body: 'A Python tutorial for beginners: variables, loops and functions.' },
      { title: 'Notifications', body: 'How users choose email or push notifications.' },
    ];
    expect((await p.call('POST', '/v1/entities/Article/records?wait=true', articles)).body.done).toBe(true);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('data insert: inline JSON, a JSON array, a .json file, a JSONL file with --batch', async () => {
    // Inserting runs once per form, each with its own record.
    const one = await once(`kameleondb data insert Contact '{"name": "John", "email": "john@example.com"}'`);
    expect(one.stdout).toMatch(/^inserted 1 records into Contact \(1 embed jobs\)\n$/);
    const oneJson = JSON.parse((await once(`kameleondb --json data insert Contact '{"name": "Jane", "email": "jane@example.com"}'`)).stdout);
    expect(oneJson).toMatchObject({ count: 1, ids: [expect.any(String)] });
    const two = await once(`kameleondb data insert Contact '[{"name": "Alice"}, {"name": "Bob"}]'`);
    expect(two.stdout).toMatch(/^inserted 2 records into Contact/);

    await writeFile(join(dir, 'contact.json'), JSON.stringify({ name: 'Carol', email: 'carol@example.com', notes: 'prefers email' }, null, 2));
    const fromJson = JSON.parse((await once(`kameleondb data insert Contact --from-file ${join(dir, 'contact.json')} --json`)).stdout);
    expect(fromJson).toMatchObject({ count: 1 });
    await writeFile(join(dir, 'contacts.jsonl'), ['{"name": "Dan", "status": "lead"}', '{"name": "Eve", "status": "lead"}', '{"name": "Frank", "status": "lead", "fax": "555-0100"}'].join('\n'));
    const batch = await once(`kameleondb data insert Contact --from-file ${join(dir, 'contacts.jsonl')} --batch`);
    expect(batch.stdout).toMatch(/^inserted 3 records into Contact/);

    const names = (await ids('Contact')).map((r) => r.data.name);
    expect(names).toEqual(['John', 'Jane', 'Alice', 'Bob', 'Carol', 'Dan', 'Eve', 'Frank']);
    // A required field missing, a duplicate unique value: the API's 400 and 409, nothing written.
    const missing = await line(`kameleondb data insert Contact '{"email": "x@example.com"}'`, 1);
    expect(missing.data).toMatchObject({ status: 'error', code: 'invalid_input', error: expect.stringMatching(/name/) });
    const dup = await line(`kameleondb data insert Contact '{"name": "J2", "email": "john@example.com"}'`, 1);
    expect(dup.data).toMatchObject({ status: 'error', code: 'conflict', error: expect.stringMatching(/john@example.com/) });
    expect(await ids('Contact')).toHaveLength(8);
    const bad = await line(`kameleondb data insert Contact '[1, 2]'`, 2);
    expect(bad.data).toEqual({ status: 'error', code: 'usage', error: expect.stringMatching(/must be a JSON object \(one record\) or an array of objects/) });
  });

  it('data get and update by id prefix, data list --limit, data info', async () => {
    const all = await ids('Contact');
    const john = all[0]!;
    const prefix = prefixOf(john.id, all);
    expect(prefix.length).toBeLessThan(36);
    const got = await line(`kameleondb data get Contact ${prefix}`);
    expect(got.data).toMatchObject({ id: john.id, data: { name: 'John' } });
    expect(got.human.stdout).toMatch(new RegExp(`^record ${john.id} of Contact: embedding`));

    const updated = await line(`kameleondb data update Contact ${prefix} '{"status": "active"}'`);
    expect(updated.data).toMatchObject({ id: john.id, reembed: false, data: { name: 'John', status: 'active' } });

    const listed = await line('kameleondb data list Contact --limit 3');
    expect(listed.data.records.map((r: StoredRecord) => r.data.name)).toEqual(['John', 'Jane', 'Alice']);
    expect(listed.data.next).toBe(all[2]!.id);
    expect(listed.human.stdout).toMatch(/\nmore: kameleondb records list Contact --limit 3 --after \S+\n$/);

    const info = await line('kameleondb data info Contact');
    expect(info.data).toMatchObject({ name: 'Contact', records: 8, embedding: { total: 8 } });
    expect(info.human.stdout).toMatch(/^entity Contact: 8 records; embeddings \d+ indexed, \d+ pending, 0 failed, 0 stale\n/);
    expect(info.human.stdout).toMatch(/\nemail\s+string\s+unique\n/);

    const none = await line('kameleondb data get Contact ffff0000', 1);
    expect(none.data).toMatchObject({ status: 'error', code: 'not_found', error: expect.stringMatching(/ffff0000/) });
  });

  it('data batch-update --from-file updates.jsonl, data batch-delete ID… and --from-file', async () => {
    const all = await ids('Contact');
    const leads = all.filter((r) => r.data.status === 'lead');
    await writeFile(join(dir, 'updates.jsonl'), leads.map((r) => JSON.stringify({ id: r.id, status: 'customer' })).join('\n'));
    const upd = await line(`kameleondb data batch-update Contact --from-file ${join(dir, 'updates.jsonl')}`);
    expect(upd.data).toMatchObject({ count: 3, reembed: 0 });
    expect(upd.human.stdout).toMatch(/^updated 3 records of Contact \(0 re-embedding/);
    expect((await ids('Contact')).filter((r) => r.data.status === 'customer')).toHaveLength(3);
    // One unknown id: nothing of the batch is written.
    await writeFile(join(dir, 'bad-updates.jsonl'), [JSON.stringify({ id: leads[0]!.id, status: 'gone' }), JSON.stringify({ id: '0000aaaa-0000-7000-8000-000000000000', status: 'gone' })].join('\n'));
    const bad = await line(`kameleondb data batch-update Contact --from-file ${join(dir, 'bad-updates.jsonl')}`, 1);
    expect(bad.data).toMatchObject({ status: 'error', code: 'not_found', error: expect.stringMatching(/0000aaaa/) });
    expect((await ids('Contact')).some((r) => r.data.status === 'gone')).toBe(false);

    const [a, b, c, d] = [all[2]!, all[3]!, all[6]!, all[7]!];
    const del = await once(`kameleondb data batch-delete Contact ${prefixOf(a.id, all)} ${b.id}`);
    expect(del.stdout).toBe('deleted 2 records of Contact\n');
    await writeFile(join(dir, 'ids.txt'), `${c.id}\n# a comment\n\n${d.id}\n`);
    const delJson = JSON.parse((await once(`kameleondb --json data batch-delete Contact --from-file ${join(dir, 'ids.txt')}`)).stdout);
    expect(delJson).toEqual({ deleted: 2, ids: [c.id, d.id] });
    const viaIds = await line(`kameleondb records batch-delete Contact --ids ${a.id},${c.id}`, 1);
    expect(viaIds.data).toMatchObject({ status: 'error', code: 'not_found' });
    expect(await ids('Contact')).toHaveLength(4);
    await line('kameleondb data batch-delete Contact', 2);
  });

  it('search lines: all entities, --entity --limit, --threshold, --where, and the agent examples', async () => {
    const all = await line('kameleondb search "customer complaint about shipping"');
    expect(all.data.results[0]).toMatchObject({ entity: 'Ticket', data: { subject: 'customer complaint about shipping delays' } });
    expect(all.human.stdout).toMatch(/^\s*#\s+SCORE\s+ENTITY\s+ID\s+CONTENT\n\s*1\s+[\d.]+\s+Ticket\s/);

    const contact = await line('kameleondb search "email address" --entity Contact --limit 5');
    expect(contact.data.results.length).toBeLessThanOrEqual(5);
    expect(contact.data.results.every((r: { entity: string }) => r.entity === 'Contact')).toBe(true);

    // Hybrid scores are RRF sums (well under 0.7): the threshold drops every result.
    const threshold = await line('kameleondb search "Python tutorial" --threshold 0.7 --json');
    expect(threshold.data).toMatchObject({ count: 0, results: [], mode: 'hybrid' });
    expect(threshold.human.stdout).toMatch(/^no results \(hybrid, [\d.]+ ms, space [\w:.-]+\)\n$/);
    const keyword = await line('kameleondb search "Python tutorial" --mode keyword --threshold 0.1');
    expect(keyword.data.results[0]).toMatchObject({ entity: 'Article', data: { title: 'Python tutorial' } });

    const bugs = await line(`kameleondb search "bug report" --entity Ticket --where '{"status": "open", "priority": "high"}'`);
    expect(bugs.data.results.map((r: { data: { subject: string } }) => r.data.subject)).toEqual(expect.arrayContaining(['bug report: checkout crashes']));
    expect(bugs.data.results.every((r: { data: { status: string; priority: string } }) => r.data.status === 'open' && r.data.priority === 'high')).toBe(true);

    const prefer = await line('kameleondb --json search "what does the user prefer for notifications" --limit 5');
    expect(prefer.data.results.length).toBeGreaterThan(0);
    expect(prefer.data.results.length).toBeLessThanOrEqual(5);
    const open = await line(`kameleondb --json search "customer complaint" --entity Ticket --where '{"status": "open"}'`);
    expect(open.data.results[0].data.subject).toBe('customer complaint about shipping delays');
    expect(open.data.results.every((r: { entity: string; data: { status: string } }) => r.entity === 'Ticket' && r.data.status === 'open')).toBe(true);

    const memory = JSON.parse((await once(`kameleondb --json data insert Memory '{"content": "User prefers dark mode", "category": "preference"}'`)).stdout);
    expect(memory).toMatchObject({ count: 1 });
    await until(async () => (await p.call('GET', `/v1/entities/Memory/records/${memory.ids[0]}`)).body.embedding.status === 'ready');
    const themes = await line('kameleondb --json search "user preferences about themes"');
    expect(themes.data.results.map((r: { entity: string }) => r.entity)).toContain('Memory');
    const unknown = await line('kameleondb search "x" --entity Nope', 1);
    expect(unknown.data).toMatchObject({ status: 'error', code: 'invalid_input', error: expect.stringMatching(/entity "Nope" does not exist; entities: Article, Contact, Memory, Ticket\b/) });
  });

  it('search QUERY --benchmark --runs N: p50/p95/p99 of client time and of took_ms', async () => {
    const { human, data } = await line('kameleondb search "bug report" --entity Ticket --benchmark --runs 20');
    expect(data).toMatchObject({ q: 'bug report', entity: 'Ticket', mode: 'hybrid', runs: 20, results: 5 });
    for (const k of ['client_ms', 'took_ms'] as const) {
      const s = data[k];
      expect(s.min).toBeLessThanOrEqual(s.p50);
      expect(s.p50).toBeLessThanOrEqual(s.p95);
      expect(s.p95).toBeLessThanOrEqual(s.p99);
      expect(s.p99).toBeLessThanOrEqual(s.max);
    }
    // The client waits for the server: its time is never under the server's own.
    expect(data.client_ms.p50).toBeGreaterThanOrEqual(data.took_ms.p50);
    // Nothing is written between the runs: every run after the first is answered from the result cache.
    expect(data.cached).toBeGreaterThanOrEqual(19);
    expect(human.stdout).toMatch(
      /^20 runs of "bug report" in Ticket \(hybrid, 5 results, \d+ from the result cache; --no-cache to measure the search itself\)\nclient\s+p50 [\d.]+ ms\s+p95 [\d.]+ ms\s+p99 [\d.]+ ms.*\ntook_ms\s+p50 [\d.]+ ms\s+p95 /,
    );
    expect((await line('kameleondb search "bug report" --benchmark --runs 5 --no-cache')).data.cached).toBe(0);
    expect((await line('kameleondb search "bug report" --benchmark')).data.runs).toBe(100);
    await line('kameleondb search "bug report" --runs 5', 2);
    await line('kameleondb search "bug report" --benchmark --runs 0', 2);
  });

  it('embeddings lines: status, reindex, reindex ENTITY, reindex ENTITY --force, reindex --background, cancel', async () => {
    const status = await line('kameleondb embeddings status');
    expect(status.data).toMatchObject({ provider: 'hash', entities: expect.arrayContaining([expect.objectContaining({ entity: 'Ticket', total: 5 })]) });
    expect(status.human.stdout).toMatch(/^active space \S+: provider hash, model \S+, \d+ dimensions/);
    expect(status.human.stdout).toMatch(/\nTicket\s+5\s+0\s+0\s+0\s+5\n/);
    expect((await line('kameleondb --json embeddings status')).data.provider).toBe('hash');

    const all = await line('kameleondb embeddings reindex');
    expect(all.data).toMatchObject({ entity: null, force: false, state: 'completed' });
    expect(all.human.stdout).toMatch(/^run \S+: completed, all entities\n/);
    const contact = await line('kameleondb embeddings reindex Contact');
    expect(contact.data).toMatchObject({ entity: 'Contact', state: 'completed' });
    const forced = await line('kameleondb embeddings reindex Article --force');
    expect(forced.data).toMatchObject({ entity: 'Article', force: true, state: 'completed', processed: 2, total: 2 });
    expect(forced.human.stdout).toMatch(/^run \S+: completed, entity Article, forced\nprocessed 2\/2/);

    const bg = await line('kameleondb embeddings reindex --background');
    expect(bg.data).toMatchObject({ entity: null, id: expect.any(String) });
    expect(bg.human.stdout).toMatch(/^started reindex run \S+\nfollow it: kameleondb embeddings status \S+ --watch\n$/);
    await until(async () => (await p.call('GET', `/v1/reindex/${bg.data.id}`)).body.finishedAt);
    const cancel = await line('kameleondb embeddings cancel', 1);
    expect(cancel.data).toEqual({ status: 'error', code: 'failed', error: 'no active reindex run to cancel' });
  });

  it('embeddings cache status, cache clear [--older-than 30d], cache clear --all: --yes, or a usage error without a terminal', async () => {
    const status = await line('kameleondb embeddings cache status');
    expect(status.data.entries).toBeGreaterThan(0);
    expect(status.human.stdout).toMatch(/^\d+ entries, [\d.]+ [KM]?B on disk; hit rate/);
    const older = await line('kameleondb embeddings cache clear --older-than 30d');
    expect(older.data).toEqual({ deleted: 0, olderThan: '30d', model: null });

    // No terminal here (stdin is not a TTY): deleting everything is refused, naming --yes.
    for (const l of ['kameleondb embeddings cache clear', 'kameleondb embeddings cache clear --all']) {
      const refused = await line(l, 2);
      expect(refused.data).toEqual({ status: 'error', code: 'usage', error: expect.stringMatching(/needs confirmation .* pass --yes/) });
      expect(refused.human.stderr).toMatch(/^error: clearing the whole embedding cache needs confirmation/);
    }
    expect((await p.call('GET', '/v1/cache')).body.entries).toBe(status.data.entries);
    await line('kameleondb embeddings cache clear --all --older-than 30d', 2);

    // On a terminal the command asks; a no deletes nothing (and exits 1), a yes deletes.
    const api = new KameleonClient({ url: p.api.url, apiKey: KEY });
    const questions: string[] = [];
    const declined = await cacheClear(api, { all: true, confirm: async (q) => (questions.push(q), false) });
    expect(declined).toMatchObject({ data: { deleted: 0, aborted: true }, exitCode: 1 });
    expect(questions).toEqual([`delete all ${status.data.entries} embedding cache entries? Re-embedding their texts calls the provider again.`]);
    expect((await p.call('GET', '/v1/cache')).body.entries).toBe(status.data.entries);

    const cleared = JSON.parse((await once('kameleondb embeddings cache clear --all --yes --json')).stdout);
    expect(cleared).toEqual({ deleted: status.data.entries, olderThan: null, model: null });
    expect((await once('kameleondb embeddings cache clear --all -y')).stdout).toBe('deleted 0 cache entries\n');
    expect((await p.call('GET', '/v1/cache')).body.entries).toBe(0);
  });

  it('embeddings jobs --clean --older-than 7d deletes finished runs older than that, never live ones', async () => {
    const before = (await line('kameleondb embeddings jobs --limit 200')).data.runs as { id: string; finishedAt: string }[];
    expect(before.length).toBeGreaterThan(3);
    const clean7d = await line('kameleondb embeddings jobs --clean --older-than 7d');
    expect(clean7d.data).toEqual({ deleted: 0, olderThan: '7d' });
    expect(clean7d.human.stdout).toBe('deleted 0 finished reindex run(s) older than 7d\n');
    // Age two runs by a fortnight: only they go.
    const old = before.slice(-2).map((r) => r.id);
    await p.db.pool.query(`UPDATE kdb_reindex_runs SET finished_at = now() - interval '14 days', created_at = now() - interval '14 days' WHERE id = ANY($1::uuid[])`, [old]);
    const cleaned = JSON.parse((await once('kameleondb embeddings jobs --clean --older-than 7d --json')).stdout);
    expect(cleaned).toEqual({ deleted: 2, olderThan: '7d' });
    const after = ((await line('kameleondb embeddings jobs --limit 200')).data.runs as { id: string }[]).map((r) => r.id);
    expect(after).toEqual(before.map((r) => r.id).filter((id) => !old.includes(id)));
    await line('kameleondb embeddings jobs --clean', 2);
    await line('kameleondb embeddings jobs --older-than 7d', 2);
    await line('kameleondb embeddings jobs --clean --older-than soon', 2);
  });

  it('entities describe NAME; schema alter NAME --add F:T, --drop F, --rename OLD:NEW (or OLD=NEW)', async () => {
    const described = await line('kameleondb entities describe Contact');
    expect(described.data).toMatchObject({ name: 'Contact', records: 4, required: ['name'], unique: ['email'], embedding: { total: 4, failed: 0 } });
    expect(described.human.stdout).toMatch(/^entity Contact: 4 records; embeddings \d+ indexed/);
    expect(described.human.stdout).toMatch(/\n\nFIELD\s+TYPE\s+FLAGS\n/);
    expect(described.human.stdout).toMatch(/\nname\s+string\s+required, embedded\n/);
    expect(described.human.stdout).toMatch(/\nemail\s+string\s+unique\n/);

    // Each alter runs once per form: the second run of the same change would find it done.
    const added = await once('kameleondb schema alter Contact --add "phone:string"');
    expect(added.stdout).toMatch(/^altered entity Contact: fields .*phone:string/);
    const addedJson = JSON.parse((await once('kameleondb --json schema alter Contact --add "mobile:string:unique"')).stdout);
    expect(addedJson).toMatchObject({ fields: { phone: 'string', mobile: 'string' }, unique: ['email', 'mobile'], reindex: null });

    const dropped = JSON.parse((await once('kameleondb schema alter Contact --drop "fax" --json')).stdout);
    expect(Object.keys(dropped.fields)).not.toContain('fax');
    const renamed = await once('kameleondb schema alter Contact --rename "name:full_name"');
    expect(renamed.stdout).toMatch(/^altered entity Contact: fields .*\bfull_name:string\b.*; embedded: full_name, notes\n/);
    expect(renamed.stdout).toMatch(/\nsearch texts changed: reindex run \S+ started/);
    const after = (await line('kameleondb entities describe Contact')).data;
    expect(after).toMatchObject({ required: ['full_name'], embedFields: ['full_name', 'notes'] });
    expect((await ids('Contact')).map((r) => r.data.full_name)).toEqual(['John', 'Jane', 'Carol', 'Dan']);
    const back = JSON.parse((await once('kameleondb entities alter Contact --rename full_name=name --json')).stdout);
    expect(back).toMatchObject({ required: ['name'], embedFields: ['name', 'notes'] });

    const unknown = await line('kameleondb schema alter Contact --drop "nosuch"', 1);
    expect(unknown.data).toMatchObject({ status: 'error', code: 'invalid_input', error: expect.stringMatching(/nosuch/) });
    await line('kameleondb schema alter Contact', 2);
    await line('kameleondb schema alter Contact --rename name', 2);
    await line('kameleondb schema alter Contact --add phone', 2);
  });
});
