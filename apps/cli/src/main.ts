#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildCli } from './cli.js';
import { CliError } from './ApiClient.js';

// One top-level catch: errors go to stderr with a non-zero exit code.
try {
  await buildCli().exitOverride().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const code = err instanceof CliError ? err.exitCode : 1;
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(code);
}
