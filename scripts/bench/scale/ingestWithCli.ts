import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ROOT } from '../harness.js';

/**
 * Streams `records` into `entity` as a user would: `kameleondb records insert
 * ENTITY -f -` with the NDJSON on its stdin, written with backpressure, so
 * neither this process nor the CLI holds more than a pipe's worth of records.
 * Resolves with the CLI's answer once the API has answered (202), or fails
 * with the CLI's exit code and output.
 */
export async function ingestWithCli(apiUrl: string, entity: string, records: Iterable<unknown>): Promise<{ count: number }> {
  const cli = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'apps/cli/src/main.ts', '--json', 'records', 'insert', entity, '-f', '-'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', KDB_API_URL: apiUrl },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  cli.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  cli.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8000)));
  const exited = once(cli, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  // A CLI that failed early closes its stdin: the write then fails, and the exit code says why.
  cli.stdin.on('error', () => undefined);
  let chunk = '';
  for (const r of records) {
    chunk += `${JSON.stringify(r)}\n`;
    if (chunk.length < 64 * 1024) continue;
    // Not events.once(stdin, 'drain'): it rejects on the EPIPE of a CLI that has exited, hiding why it did.
    if (!cli.stdin.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          cli.stdin.off('drain', done);
          cli.stdin.off('close', done);
          resolve();
        };
        cli.stdin.on('drain', done);
        cli.stdin.on('close', done);
      });
    }
    chunk = '';
    if (cli.stdin.destroyed || cli.exitCode !== null) break;
  }
  if (!cli.stdin.destroyed) cli.stdin.end(chunk);
  const [code, signal] = await exited;
  if (code !== 0) throw new Error(`kameleondb records insert ${entity} exited ${code ?? signal}: ${err || out}`);
  const answer = JSON.parse(out) as { count?: number };
  if (typeof answer.count !== 'number') throw new Error(`kameleondb records insert answered without a count: ${out.slice(0, 500)}`);
  return { count: answer.count };
}
