#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildCli } from './cli.js';
import { CliError } from './ApiClient.js';

// One top-level catch: errors go to stderr. Exit codes: 0 ok, 1 failure
// (including a reindex run that ended cancelled or failed), 2 usage.
try {
  await buildCli().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are not errors; anything else commander rejects is a usage error.
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2);
  }
  const code = err instanceof CliError ? err.exitCode : 1;
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(code);
}
