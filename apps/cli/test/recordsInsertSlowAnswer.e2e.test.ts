import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlowAnsweringApi, type SlowAnsweringApi } from '../../../test-support/slowAnsweringApi.js';
import { runCli } from './runCli.js';

// The CLI process's global undici dispatcher gets these in place of undici's 300 s defaults: the same condition, shorter.
const SHORT_UNDICI_TIMEOUT_MS = 500;
// The stand-in API answers this long after reading the whole upload: past the timeouts above.
const ANSWER_DELAY_MS = 1_500;

describe('kameleondb records insert when the API answers after undici’s header timeout', () => {
  let api: SlowAnsweringApi;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    api = await startSlowAnsweringApi(ANSWER_DELAY_MS);
    dir = await mkdtemp(join(tmpdir(), 'kdb-cli-slow-'));
    // The undici the client resolves (the one the CLI loads), so the preload sets the dispatcher the CLI's fetch uses.
    const undici = pathToFileURL(createRequire(fileURLToPath(new URL('../../../packages/client/package.json', import.meta.url))).resolve('undici')).href;
    const preload = join(dir, 'shortUndiciTimeouts.mjs');
    await writeFile(
      preload,
      `import { Agent, setGlobalDispatcher } from ${JSON.stringify(undici)};\n` +
        `setGlobalDispatcher(new Agent({ headersTimeout: ${SHORT_UNDICI_TIMEOUT_MS}, bodyTimeout: ${SHORT_UNDICI_TIMEOUT_MS} }));\n`,
    );
    env = { KDB_API_URL: api.url, NODE_OPTIONS: `--import ${pathToFileURL(preload).href}` };
  });
  afterAll(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the preload does shorten the CLI process’s timeouts: a plain fetch there fails as the CLI used to', async () => {
    const probe = `fetch(${JSON.stringify(`${api.url}/probe`)}, { method: 'POST', body: '{}' }).then(() => console.log('answered'), (e) => console.log(e.cause?.code))`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', probe], { env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', ...env } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out.trim()).toBe('UND_ERR_HEADERS_TIMEOUT');
  });

  it('streams an NDJSON file and prints the answer that came after the timeout (the CLI sets no upload limit)', async () => {
    const file = join(dir, 'tickets.jsonl');
    await writeFile(file, Array.from({ length: 300 }, (_, i) => JSON.stringify({ subject: `ticket ${i}` })).join('\n'));
    const res = await runCli(['records', 'insert', 'Ticket', '--file', file, '--json'], env);
    expect(res.code, `stdout: ${res.stdout} stderr: ${res.stderr}`).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ count: 300 });
  });

  it('waits with --wait past the timeout too', async () => {
    const file = join(dir, 'more.jsonl');
    await writeFile(file, '{"subject":"a"}\n{"subject":"b"}\n');
    const res = await runCli(['records', 'insert', 'Ticket', '--file', file, '--wait', '--json'], env);
    expect(res.code, `stdout: ${res.stdout} stderr: ${res.stderr}`).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ count: 2, wait: true });
  });
});
