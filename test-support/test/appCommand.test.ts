import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { staleBuild } from '../appCommand.js';

const FOLDERS = ['packages/schemas', 'packages/client', 'packages/core', 'apps/api', 'apps/worker', 'apps/cli'];
let root: string;

/** Writes `path` under the fake checkout with the given age in seconds (older is smaller). */
async function put(path: string, at: number): Promise<void> {
  const full = join(root, path);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, '');
  await utimes(full, at, at);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kdb-build-'));
  for (const f of FOLDERS) {
    await put(`${f}/package.json`, 1000);
    await put(`${f}/tsconfig.json`, 1000);
    await put(`${f}/src/index.ts`, 1000);
    await put(`${f}/src/store/deep.ts`, 1000);
    await put(`${f}/src/types.d.ts`, 5000);
    await put(`${f}/dist/index.js`, 2000);
    await put(`${f}/dist/store/deep.js`, 2000);
  }
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

test('a build newer than every source file stands in for the sources', () => {
  expect(staleBuild(root)).toBeUndefined();
});

test('a source file edited after the build makes it stale, naming the file', async () => {
  await put('packages/core/src/store/deep.ts', 3000);
  expect(staleBuild(root)).toBe('packages/core/src/store/deep.ts (or its package\'s config) is newer than its build');
});

test('a source file with no build (added since) makes it stale', async () => {
  await put('apps/worker/src/added.ts', 1000);
  expect(staleBuild(root)).toBe('apps/worker/dist has no build of src/added.ts');
});

test('no build at all is stale', async () => {
  await rm(join(root, 'apps/cli/dist'), { recursive: true });
  expect(staleBuild(root)).toMatch(/^apps\/cli\/dist has no build of src\//);
});

test('a package.json or tsconfig.json changed after the build makes it stale', async () => {
  await put('packages/schemas/tsconfig.json', 3000);
  expect(staleBuild(root)).toMatch(/^packages\/schemas\/src\/.* is newer than its build$/);
});
