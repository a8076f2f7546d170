import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PKG_DIR = fileURLToPath(new URL('..', import.meta.url));

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };

/** Every package the client pulls in at run time: its dependencies, theirs, and so on, found in node_modules as Node finds them. */
function runtimeClosure(dir: string, seen = new Set<string>()): Set<string> {
  const pkg = readJson(join(dir, 'package.json'));
  const require = createRequire(join(dir, 'package.json'));
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
    if (seen.has(name)) continue;
    const home = require.resolve.paths(name)?.map((p) => join(p, name)).find((p) => existsSync(join(p, 'package.json')));
    expect(home, `${name} (a dependency of ${dir}) is installed`).toBeDefined();
    seen.add(name);
    runtimeClosure(home!, seen);
  }
  return seen;
}

describe('@kameleondb/client dependencies', () => {
  // undici: the dispatcher that lifts undici's 300 s header and body timeouts off the client's calls (callTimeoutDispatcher).
  it('lists only @kameleondb/schemas, undici and zod, and pulls in neither @kameleondb/core, onnxruntime nor pg', () => {
    expect(Object.keys(readJson(join(PKG_DIR, 'package.json')).dependencies ?? {}).sort()).toEqual(['@kameleondb/schemas', 'undici', 'zod']);
    const closure = [...runtimeClosure(PKG_DIR)].sort();
    expect(closure).toEqual(['@kameleondb/schemas', 'undici', 'zod']);
    expect(closure.some((n) => n === '@kameleondb/core' || n.startsWith('onnxruntime') || n === 'pg')).toBe(false);
  });

  it('keeps the CLI, built on it, free of @kameleondb/core and onnxruntime too', () => {
    const closure = [...runtimeClosure(fileURLToPath(new URL('../../../apps/cli', import.meta.url)))];
    expect(closure).toContain('@kameleondb/client');
    expect(closure.filter((n) => n === '@kameleondb/core' || n.startsWith('onnxruntime') || n === 'fastembed' || n === 'pg')).toEqual([]);
  });

  it('imports nothing but its own files, node: modules, zod, undici and @kameleondb/schemas', () => {
    const src = join(PKG_DIR, 'src');
    const specifiers = readdirSync(src)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(src, f), 'utf8').matchAll(/\bfrom '([^']+)'/g)].map((m) => m[1]!));
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('node:') && s !== 'zod' && s !== 'undici' && s !== '@kameleondb/schemas')).toEqual([]);
  });
});
