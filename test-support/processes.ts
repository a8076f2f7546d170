import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './leaks.js';
import { appCommand } from './appCommand.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ChildApp {
  proc: ChildProcess;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts an app as a real process (its build, or its sources when the build is stale: appCommand); resolves once `readyLine` appears in its output.
 * The provider is `hash` unless `env` names one (the product's default, fastembed, needs a model folder).
 */
export async function startChild(app: 'api' | 'worker', env: Record<string, string>, readyLine: RegExp, timeoutMs = 30_000): Promise<ChildApp> {
  const proc = spawn(process.execPath, appCommand(app), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', KDB_EMBEDDING_PROVIDER: 'hash', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(`${app} process ${proc.pid}`, () => proc.exitCode === null && proc.signalCode === null, { scope: 'file' });
  let out = '';
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running: the file's leak check would report it, and it holds a port and connections.
      proc.kill('SIGKILL');
      reject(new Error(`${app} not ready after ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (readyLine.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { proc, output: () => out, exited, kill: (signal = 'SIGTERM') => void proc.kill(signal) };
}

/** An API process; `timeoutMs` bounds its start (a loaded machine compiles the sources slowly). */
export async function startApiProcess(env: Record<string, string>, timeoutMs?: number): Promise<ChildApp & { url: string }> {
  const child = await startChild('api', { KDB_PORT: '0', ...env }, /"msg":"api listening"/, timeoutMs);
  const url = /"url":"(http:[^"]+)"/.exec(child.output())![1]!;
  return { ...child, url };
}

/** A worker process; `probesUrl` serves its /metrics, /healthz and /readyz (on a free port). `timeoutMs` bounds its start. */
export async function startWorkerProcess(env: Record<string, string>, timeoutMs?: number): Promise<ChildApp & { probesUrl: string }> {
  const child = await startChild('worker', { KDB_METRICS_PORT: '0', ...env }, /"msg":"metrics and probes listening"/, timeoutMs);
  const probesUrl = /"url":"(http:[^"]+)","msg":"metrics and probes listening"/.exec(child.output())![1]!;
  return { ...child, probesUrl };
}

/** Stops children with SIGTERM and waits for them. */
export async function stopAll(children: readonly (ChildApp | undefined)[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await c.exited;
      clearTimeout(t);
    }),
  );
}

/** Runs the starts concurrently; when one fails, stops those that started and rethrows its error (nothing is left running). */
export async function startTogether<T extends readonly (() => Promise<ChildApp>)[]>(...starts: T): Promise<{ -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const settled = await Promise.allSettled(starts.map((start) => start()));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll(settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined)));
    throw failed.reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<ChildApp>).value) as { -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> };
}
