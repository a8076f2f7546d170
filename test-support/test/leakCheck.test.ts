import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { expect, inject, it } from 'vitest';
import { adminUrl } from '../urls.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

it('fails a test that leaves a pool or a server open, and passes one that closes what it opens', async () => {
  const run = await promisify(execFile)(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test-support/test/leaky/vitest.config.ts', '--reporter=verbose'], {
    cwd: ROOT,
    env: { ...process.env, KDB_TEST_TEMPLATE_DB: inject('templateDb'), NO_COLOR: '1', FORCE_COLOR: '0' },
  }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
  // What the leaky test left behind is this run's to remove.
  for (const name of new Set(run.out.match(/kdb_t_[0-9a-f]{10}/g) ?? [])) {
    const c = new pg.Client({ connectionString: adminUrl() });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }
  expect(run.code, run.out).toBe(1);
  expect(run.out).toMatch(/test "leaves a pool open" left open: test database kdb_t_[0-9a-f]{10}/);
  expect(run.out).toMatch(/test "leaves a server listening" left open: server listening on 127\.0\.0\.1:\d+/);
  expect(run.out).toMatch(/✓ .*closes what it opens/);
  expect(run.out).toMatch(/the file left open after its afterAll hooks: test database kdb_t_/);
});
