import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { HttpAnswer, jsonClient } from '../../../test-support/http.js';

const KEY = 'test-key-openapi-0123456789';
const MAX_BODY = 65_536;

test.override('apiEnv', { KDB_API_KEY: KEY, KDB_MAX_BODY: String(MAX_BODY) });

type Operation = {
  operationId: string;
  parameters: ({ $ref: string } | { name: string; in: string })[];
  requestBody?: { required: boolean; content: Record<string, unknown> };
  responses: Record<string, { $ref?: string; headers?: Record<string, unknown> }>;
};
type Doc = {
  servers: { url: string }[];
  security: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: { Error: { properties: { error: { required: string[] } } } }; parameters: Record<string, { name: string; in: string }>; responses: Record<string, unknown> };
};

const redoclyCli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

/** Runs `redocly lint` on the document, offline (no telemetry, no update check), from a folder with no config of its own. */
async function lint(doc: unknown): Promise<{ totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'kdb-openapi-'));
  try {
    await writeFile(join(dir, 'openapi.json'), JSON.stringify(doc));
    const { stdout } = await promisify(execFile)(process.execPath, [redoclyCli, 'lint', 'openapi.json', '--extends', 'recommended', '--format', 'json'], {
      cwd: dir,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    return JSON.parse(stdout.slice(stdout.indexOf('{')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('OpenAPI document', () => {
  let doc: Doc;
  let call: ReturnType<typeof jsonClient>;
  const ops = () => Object.entries(doc.paths).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, op]) => ({ path, method, op })));
  const op = (method: string, path: string) => doc.paths[path]![method]!;
  const documented = (status: number, method: string, path: string, a: HttpAnswer) => {
    expect(a.status, JSON.stringify(a.body)).toBe(status);
    expect(Object.keys(op(method, path).responses), `${method} ${path} answered ${a.status}: ${JSON.stringify(a.body)}`).toContain(String(a.status));
    // The error schema: {error: {code, message, details, requestId}}, with the request id of the answer.
    expect(Object.keys(a.body.error).sort()).toEqual(['code', 'details', 'message', 'requestId']);
    expect(a.body.error.requestId).toBe(a.headers.get('x-request-id'));
  };

  test.beforeAll(async ({ call: c }) => {
    call = c;
    doc = (await call('GET', '/v1/openapi.json')).body;
    await call('POST', '/v1/entities', { name: 'notes', fields: { title: 'text' }, embedFields: ['title'] });
  });

  it('passes redocly lint (recommended rules) with 0 errors and 0 warnings', async () => {
    const report = await lint(doc);
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 90_000);

  it('names every operation, its server and its bearer security', () => {
    const ids = ops().map((o) => o.op.operationId);
    expect(ids.every((id) => /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('documents every body type, header and error answer', () => {
    const records = op('post', '/v1/entities/{name}/records');
    expect(Object.keys(records.requestBody!.content)).toEqual(expect.arrayContaining(['application/json', 'application/x-ndjson']));
    const header = (o: Operation, name: string) => o.parameters.some((p) => ('$ref' in p ? doc.components.parameters[p.$ref.split('/').pop()!]! : p).name === name);
    expect(header(records, 'Idempotency-Key')).toBe(true);
    expect(op('post', '/v1/reindex').requestBody!.required).toBe(false);
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message', 'details', 'requestId']);
    for (const { path, method, op: o } of ops()) {
      const statuses = Object.keys(o.responses);
      expect(header(o, 'X-Request-Id'), `${method} ${path}`).toBe(true);
      expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['400', '401', '429', '500']));
      if (path.includes('{')) expect(statuses, `${method} ${path}`).toContain('404');
      if (o.requestBody) expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
      for (const s of statuses.filter((s) => Number(s) >= 400)) expect(o.responses[s]!.$ref, `${method} ${path} ${s}`).toMatch(/^#\/components\/responses\//);
    }
    expect(Object.keys(doc.components.responses).sort()).toEqual(
      ['BadRequest', 'Conflict', 'InternalError', 'NotFound', 'PayloadTooLarge', 'ServiceUnavailable', 'TooManyRequests', 'Unauthorized', 'UnsupportedMediaType'].sort(),
    );
  });

  it('documents the errors the API really answers, in the documented shape', async () => {
    const records = '/v1/entities/{name}/records';
    documented(409, 'post', '/v1/entities', await call('POST', '/v1/entities', { name: 'notes', fields: { title: 'text' }, embedFields: ['title'] }));
    documented(401, 'get', '/v1/entities', await call('GET', '/v1/entities', undefined, { authorization: 'Bearer not-the-key' }));
    documented(404, 'get', '/v1/entities/{name}', await call('GET', '/v1/entities/nope'));
    documented(400, 'get', '/v1/reindex', await call('GET', '/v1/reindex?limit=0'));
    documented(415, 'post', records, await call('POST', '/v1/entities/notes/records', 'title,text', { 'content-type': 'text/csv' }));
    documented(413, 'post', records, await call('POST', '/v1/entities/notes/records', gzipSync(Buffer.alloc(MAX_BODY * 2, 0x20)), { 'content-encoding': 'gzip' }));
    documented(400, 'post', records, await call('POST', '/v1/entities/notes/records', '{"title":"a"}\n{"title":', { 'content-type': 'application/x-ndjson' }));
    const first = await call('POST', '/v1/entities/notes/records', [{ title: 'a' }], { 'idempotency-key': 'openapi-k1' });
    expect(first.status).toBe(202);
    documented(409, 'post', records, await call('POST', '/v1/entities/notes/records', [{ title: 'b' }], { 'idempotency-key': 'openapi-k1' }));
    // The NDJSON body the document names is taken.
    expect((await call('POST', '/v1/entities/notes/records', '{"title":"a"}\n{"title":"b"}\n', { 'content-type': 'application/x-ndjson' })).body.count).toBe(2);
  });
});
