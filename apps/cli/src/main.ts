#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildCli, wantsJson } from './cli.js';
import { CliError } from './CliError.js';
import { printError } from './output.js';

// One top-level catch. Exit codes, the same in every command: 0 ok, 1 failure
// (including a reindex run that ended cancelled or failed), 2 usage.
const json = wantsJson(process.argv);
try {
  await buildCli(process.env, { json }).parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not errors; anything else commander rejects is a usage error.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) process.exit(0);
    // Without --json commander has already written the message (and the help) to stderr.
    if (json) printError(err.message.replace(/^error: /, ''), 'usage', true);
    process.exit(2);
  }
  const cliErr = err instanceof CliError ? err : null;
  printError((err as Error).message, cliErr?.code ?? 'failed', json);
  process.exit(cliErr?.exitCode ?? 1);
}
