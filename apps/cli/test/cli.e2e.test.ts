import { execFile } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiProcess, startTogether, startWorkerProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { test } from '../../../test-support/fixtures.js';
import { appCommand } from '../../../test-support/appCommand.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const KEY = 'cli-test-key-0123456789';

describe('kameleondb CLI against a running API', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];
  let apiUrl: string;
  let dir: string;

  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [...appCommand('cli'), ...args],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', KDB_API_URL: apiUrl, KDB_API_KEY: KEY, ...env } },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });

  test.beforeAll(async ({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
    dir = await mkdtemp(join(tmpdir(), 'kdb-cli-'));
    const env = { KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_API_KEY: KEY };
    const [api, ...workers] = await startTogether(() => startApiProcess(env), () => startWorkerProcess(env));
    apiUrl = api.url;
    children.push(api, ...workers);
  });
  afterAll(async () => {
    await stopAll(children);
  });

  it('creates and lists entities, as text and as JSON', async () => {
    const created = await cli(['entities', 'create', 'books', '--field', 'title:text', '--field', 'summary:text', '--field', 'year:integer', '--embed', 'title,summary']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(/created entity books: fields .*year:integer.*embedded: title, summary/);
    const listed = await cli(['entities', 'list', '--json']);
    expect(JSON.parse(listed.stdout).entities).toEqual([expect.objectContaining({ name: 'books', embedFields: ['title', 'summary'] })]);
    expect((await cli(['entities', 'list'])).stdout).toMatch(/^ENTITY\s+FIELDS\s+EMBEDDED\s+CREATED\nbooks\s+/);
  });

  it('streams an NDJSON file, waits for embedding, and reports status per entity', async () => {
    const file = join(dir, 'books.jsonl');
    await writeFile(file, Array.from({ length: 1200 }, (_, i) => JSON.stringify({ title: `Book ${i}`, summary: `A story about ${i % 7}`, year: 1900 + (i % 120) })).join('\n'));
    const res = await cli(['records', 'insert', 'books', '--file', file, '--wait', '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ count: 1200, done: true, counts: { ready: 1200, pending: 0, failed: 0 } });
    const status = await cli(['embeddings', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({
      provider: 'hash',
      dimensions: 384,
      entities: [{ entity: 'books', total: 1200, indexed: 1200, pending: 0, failed: 0, stale: 0 }],
    });
    const human = await cli(['embeddings', 'status']);
    expect(human.stdout).toMatch(/provider hash, model feature-hash-v1, 384 dimensions/);
    expect(human.stdout).toMatch(/books\s+1200\s+0\s+0\s+0\s+1200/);
  });

  it('searches, printing a table or JSON, with filters and explain', async () => {
    const human = await cli(['search', 'books', 'Book 42', '--limit', '3']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^#\s+SCORE\s+ENTITY\s+ID\s+CONTENT\n1\s+[\d.]+\s+books\s+\S+\s+title: Book 42 \| summary: A story about 0/);
    expect(human.stdout).toMatch(/3 results, hybrid, [\d.]+ ms/);
    const json = JSON.parse((await cli(['search', 'books', 'story', '--mode', 'keyword', '--where', '{"year":1905}', '--json'])).stdout) as {
      results: { data: { year: number } }[];
      mode: string;
    };
    expect(json.mode).toBe('keyword');
    expect(json.results.length).toBe(10);
    expect(json.results.every((r) => r.data.year === 1905)).toBe(true);
    const explained = await cli(['search', 'Book 7', '--explain', '--limit', '2']);
    expect(explained.stdout).toMatch(/RANKS/);
    expect(explained.stdout).toMatch(/keyword plan:\n[\s\S]*Index Only Scan using kdb_postings_impact_idx/);
    const bad = await cli(['search', 'books', 'x', '--where', '{oops']);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toMatch(/--where <json>' argument '\{oops' is invalid. must be JSON/);
  });

  it('reports errors on stderr with a non-zero exit code', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"title":"ok"}\n{"title": 12}\n');
    const r1 = await cli(['records', 'insert', 'books', '--file', bad]);
    expect(r1.code).toBe(1);
    expect(r1.stdout).toBe('');
    expect(r1.stderr).toMatch(/^error: line 2: field "title" must be text/);
    const r2 = await cli(['entities', 'list'], { KDB_API_KEY: 'wrong-key-0123456789' });
    expect(r2).toMatchObject({ code: 1, stdout: '' });
    expect(r2.stderr).toMatch(/invalid API key.*HTTP 401/);
    const r3 = await cli(['entities', 'list'], { KDB_API_URL: 'http://127.0.0.1:65533' });
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/cannot reach the API at http:\/\/127.0.0.1:65533 \(KDB_API_URL\): ECONNREFUSED/);
    const r4 = await cli(['entities', 'create', 'x', '--field', 'notype']);
    expect(r4.stderr).toMatch(/--field "notype" must look like NAME:TYPE/);
  });

  it('inserts a file once however often the same command with --idempotency-key runs', async () => {
    const file = join(dir, 'more.jsonl');
    await writeFile(file, Array.from({ length: 40 }, (_, i) => JSON.stringify({ title: `Sequel ${i}`, summary: 'again', year: 2000 })).join('\n'));
    const args = ['records', 'insert', 'books', '--file', file, '--idempotency-key', 'more-books-v1'];
    const first = JSON.parse((await cli([...args, '--json'])).stdout) as { count: number; ids: string[]; replayed?: boolean };
    expect(first.count).toBe(40);
    const again = await cli(args);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^already inserted: 40 records into books by an earlier request with this idempotency key \(nothing written/);
    const status = JSON.parse((await cli(['embeddings', 'status', '--json'])).stdout) as { entities: { total: number }[] };
    expect(status.entities[0]!.total).toBe(1240);
  });
});

