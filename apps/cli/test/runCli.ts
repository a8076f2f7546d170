import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { appCommand } from '../../../test-support/appCommand.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `kameleondb ARGS` as a separate process (appCommand: the build, or the sources when it is stale), with only `env`
 * (and PATH) in its environment: the CLI sees no variable of the test runner.
 */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...appCommand('cli'), ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
