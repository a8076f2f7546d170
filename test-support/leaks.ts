import { AsyncLocalStorage } from 'node:async_hooks';
import net from 'node:net';

/**
 * What a test opened through test-support and must close: each fixture that
 * opens a pool, a queue, a Redis server or a process registers it here with a
 * probe that says whether it is still open. The after-each check of
 * `leakCheck.ts` fails a test that leaves one of its own open, and the
 * after-all check a file that leaves any open.
 */
export interface Tracked {
  /** What it is, named for the failure message: `pg pool of kdb_t_1a2b…`. */
  what: string;
  /** The test that opened it, or undefined for a file's beforeAll. */
  test: string | undefined;
  isOpen(): boolean;
}

const tracked = new Set<Tracked>();
let currentTest: string | undefined;
/** Set while a vitest fixture opens something: vitest closes it after the file, past any hook of ours. */
const inFixture = new AsyncLocalStorage<true>();
const fixtureServers = new Set<net.Server>();

/**
 * Registers something a fixture opened; it counts against the test running
 * now, or with `scope: 'file'` against the file only (a process a test starts
 * and hands to the file's afterAll, as crash tests do).
 */
export function track(what: string, isOpen: () => boolean, opts: { scope?: 'test' | 'file' } = {}): void {
  if (inFixture.getStore()) return;
  tracked.add({ what, test: opts.scope === 'file' ? undefined : currentTest, isOpen });
}

/**
 * Opens what a vitest fixture owns: vitest's fixture cleanup closes it after
 * the file's hooks, so the checks leave it (and the servers it started) alone.
 */
export async function openedByFixture<T>(open: () => Promise<T>): Promise<T> {
  const before = listeningServers();
  const value = await inFixture.run(true, open);
  for (const s of listeningServers()) if (!before.has(s)) fixtureServers.add(s);
  return value;
}

/** Called by the check around each test: resources opened from now on belong to `name`. */
export function enterTest(name: string | undefined): void {
  currentTest = name;
}

/** Listening servers of this process (HTTP included): a server a test starts must be closed by the test. */
export function listeningServers(): Set<net.Server> {
  // No public API lists handles; this one is what vitest's and node's own leak reports read.
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return new Set(handles.filter((h): h is net.Server => h instanceof net.Server && h.listening));
}

function describeServer(s: net.Server): string {
  const a = s.address();
  return `server listening on ${typeof a === 'string' ? a : a ? `${a.address}:${a.port}` : '?'}`;
}

/**
 * What is still open: the tracked resources of `test` (all of them when
 * `test` is undefined) and the servers not in `serversBefore`. A close that
 * is under way gets `graceMs` to finish (a pool's end, a process's exit).
 */
export async function findLeaks(opts: { test?: string; serversBefore?: Set<net.Server>; graceMs?: number }): Promise<string[]> {
  const deadline = Date.now() + (opts.graceMs ?? 2000);
  for (;;) {
    const open = [...tracked].filter((t) => (opts.test === undefined || t.test === opts.test) && t.isOpen());
    const servers = [...listeningServers()].filter((s) => !opts.serversBefore?.has(s) && !fixtureServers.has(s));
    if ((open.length === 0 && servers.length === 0) || Date.now() > deadline) {
      for (const t of tracked) if (!t.isOpen()) tracked.delete(t);
      return [...open.map((t) => t.what), ...servers.map(describeServer)];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
