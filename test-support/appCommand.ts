import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Every workspace folder whose build an app process loads (apps import the packages' dist without the `source` condition). */
const BUILT = ['packages/schemas', 'packages/client', 'packages/core', 'apps/api', 'apps/worker', 'apps/cli'];

export type AppName = 'api' | 'worker' | 'cli';

/** Why the build cannot stand in for the sources, or undefined when every `dist/*.js` is at least as new as its `src/*.ts`. */
export function staleBuild(root = ROOT): string | undefined {
  for (const folder of BUILT) {
    const src = join(root, folder, 'src');
    const dist = join(root, folder, 'dist');
    // A changed package.json or tsconfig.json changes what tsc emits.
    const configTime = Math.max(...['package.json', 'tsconfig.json'].map((f) => mtime(join(root, folder, f)) ?? 0));
    for (const rel of sourceFiles(src)) {
      const built = mtime(join(dist, rel.replace(/\.ts$/, '.js')));
      if (built === undefined) return `${folder}/dist has no build of src/${rel}`;
      if (built < mtime(join(src, rel))! || built < configTime) return `${folder}/src/${rel} (or its package's config) is newer than its build`;
    }
  }
  return undefined;
}

let decided: 'dist' | 'source' | undefined;

/**
 * How a test starts an app as a real process: `node apps/<app>/dist/main.js`
 * (what the Dockerfile runs) when the build is up to date, otherwise the
 * sources through tsx, so a test never runs code older than the checkout.
 * Starting from the build needs half the CPU time of tsx, which compiles the
 * source tree at every start. KDB_TEST_APPS=source|dist forces one (dist
 * fails on a stale build instead of falling back).
 */
export function appCommand(app: AppName): string[] {
  decided ??= appSource().from;
  return decided === 'dist' ? [`apps/${app}/dist/main.js`] : ['--conditions=source', '--import', 'tsx', `apps/${app}/src/main.ts`];
}

/** Where app processes run from in this test run, and why (printed once by the global set-up). */
export function appSource(): { from: 'dist' | 'source'; reason: string } {
  const forced = process.env.KDB_TEST_APPS;
  if (forced === 'source') return { from: 'source', reason: 'KDB_TEST_APPS=source' };
  const stale = staleBuild();
  if (forced === 'dist' && stale) throw new Error(`KDB_TEST_APPS=dist but the build is stale: ${stale}. Run \`pnpm run build\`.`);
  if (forced !== undefined && forced !== 'dist') throw new Error(`KDB_TEST_APPS must be "source" or "dist"; got "${forced}"`);
  return stale ? { from: 'source', reason: `${stale}; \`pnpm run build\` makes app processes start from the build` } : { from: 'dist', reason: 'the build is up to date' };
}

function sourceFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...sourceFiles(dir, rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}
