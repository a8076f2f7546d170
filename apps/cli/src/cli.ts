import { Command, Option } from 'commander';
import { KameleonClient } from '@kameleondb/client';
import { toCliError } from './CliError.js';
import { print, type CommandResult } from './output.js';
import { entitiesCreate } from './commands/entitiesCreate.js';
import { entitiesList } from './commands/entitiesList.js';
import { recordsInsert } from './commands/recordsInsert.js';
import { embeddingsStatus } from './commands/embeddingsStatus.js';
import { embeddingsReindex } from './commands/embeddingsReindex.js';
import { embeddingsCancel } from './commands/embeddingsCancel.js';
import { cacheStatus } from './commands/cacheStatus.js';
import { cacheClear } from './commands/cacheClear.js';
import { search } from './commands/search.js';
import { embeddingsJobs } from './commands/embeddingsJobs.js';
import { recordsGet } from './commands/recordsGet.js';
import { recordsList } from './commands/recordsList.js';
import { recordsUpdate } from './commands/recordsUpdate.js';
import { recordsDelete } from './commands/recordsDelete.js';
import { parseOption } from './parseOption.js';

/**
 * Whether the command line asks for JSON. Read from argv, not from parsed
 * options: a usage error can come before commander has parsed `--json`.
 */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

export interface BuildCliOptions {
  /** JSON output: commander then writes nothing to stderr, main.ts prints the error document (default false). */
  json?: boolean;
}

/** Builds the `kameleondb` program: each action returns data, printed in one place. */
export function buildCli(env: Record<string, string | undefined> = process.env, cliOpts: BuildCliOptions = {}): Command {
  const program = new Command('kameleondb')
    .description('Control the KameleonDB embedding pipeline through its HTTP API')
    .addOption(new Option('--api-url <url>', 'API base URL').env('KDB_API_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--api-key <key>', 'API key (Bearer token)').env('KDB_API_KEY'))
    .option('--json', 'print results as JSON', false)
    .showHelpAfterError()
    // Before the subcommands are added, so they inherit these: main.ts maps usage errors to exit code 2,
    // and with --json prints them as the one document on stdout instead.
    .configureOutput({ writeErr: (str) => (cliOpts.json ? undefined : process.stderr.write(str)) })
    .exitOverride();

  // Commander passes the declared arguments, then the options and the command: the action's own types are the declaration's.
  const run = <A extends unknown[], T>(fn: (api: KameleonClient, cmd: Command, ...args: A) => Promise<CommandResult<T>>) =>
    async function (this: Command, ...args: unknown[]) {
      const g = this.optsWithGlobals<{ apiUrl: string; apiKey?: string; json: boolean }>();
      // No limit on a streamed upload: a file may take long to send, and Ctrl-C stops it.
      const api = new KameleonClient({ url: g.apiUrl ?? env.KDB_API_URL ?? 'http://127.0.0.1:8080', apiKey: g.apiKey, uploadTimeoutMs: 0 });
      let result: CommandResult<T>;
      try {
        result = await fn(api, this, ...(args.slice(0, -2) as A));
      } catch (err) {
        throw toCliError(err, api);
      }
      print(result, g.json);
    };

  const entities = program.command('entities').description('define the entities records belong to');
  entities
    .command('create [name]')
    .description('create an entity')
    .option('--field <name:type>', 'a field, repeatable (types: text, string, number, integer, boolean, datetime, json)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--embed <fields>', 'comma-separated fields whose text is embedded (default: the text fields)')
    .option('--file <entity.json>', 'read {name, fields, embedFields} from a file')
    .action(run((api, cmd, name: string | undefined) => entitiesCreate(api, name, cmd.opts())));
  entities.command('list').description('list entities').action(run((api) => entitiesList(api)));

  const records = program.command('records').description('read and write records');
  records
    .command('insert <entity>')
    .description('stream records from an NDJSON file (one JSON object a line) to the API')
    .requiredOption('--file <path>', 'NDJSON file, or - for stdin')
    .option('--wait', 'answer when every record is embedded (or failed)', false)
    .option('--idempotency-key <key>', 'retry-safe: the same key and file never insert twice (kept KDB_IDEMPOTENCY_TTL, default 24h)')
    .action(
      run((api, cmd, entity: string) => {
        const o = cmd.optsWithGlobals<{ file: string; wait: boolean; json: boolean; idempotencyKey?: string }>();
        return recordsInsert(api, entity, { file: o.file, wait: o.wait, idempotencyKey: o.idempotencyKey, progress: Boolean(process.stderr.isTTY) && !o.json });
      }),
    );

  records
    .command('get <entity> <id>')
    .description('one record, its data and embedding status')
    .action(run((api, _cmd, entity: string, id: string) => recordsGet(api, entity, id)));
  records
    .command('list <entity>')
    .description('records in id order (oldest first), a page at a time')
    .option('-n, --limit <n>', 'records per page, 1 to 1000 (default 50)', parseOption.integer(1, 1000))
    .option('--after <id>', 'start after this id (the "more:" line of the previous page)')
    .action(run((api, cmd, entity: string) => recordsList(api, entity, cmd.opts<{ limit?: number; after?: string }>())));
  records
    .command('update <entity> <id>')
    .description('merge fields into a record; a changed text is re-embedded')
    .requiredOption('--data <json>', 'the fields to change, e.g. \'{"status":"closed"}\'', parseOption.jsonObject)
    .action(run((api, cmd, entity: string, id: string) => recordsUpdate(api, entity, id, cmd.opts<{ data: Record<string, unknown> }>().data)));
  records
    .command('delete <entity> <id>')
    .description('delete a record and its embedding')
    .action(run((api, _cmd, entity: string, id: string) => recordsDelete(api, entity, id)));

  const tty = (json: boolean) => Boolean(process.stderr.isTTY) && !json;
  const embeddings = program.command('embeddings').description('embedding status, reindex runs and the embedding cache');
  embeddings
    .command('reindex [entity]')
    .description('re-embed rows that need it (all rows with --force); follows the run unless --background')
    .option('--force', 'process every row; the cache makes unchanged text free', false)
    .option('--background', 'print the run id and return at once', false)
    .option('--dry-run', 'report what a run would do, change nothing', false)
    .action(
      run((api, cmd, entity: string | undefined) => {
        const o = cmd.optsWithGlobals<{ force: boolean; background: boolean; dryRun: boolean; json: boolean }>();
        return embeddingsReindex(api, entity, { force: o.force, background: o.background, dryRun: o.dryRun, progress: tty(o.json) });
      }),
    );
  embeddings
    .command('status [runId]')
    .description('provider, per-entity indexed/pending/failed counts and active runs; or one run')
    .option('--watch', 'follow the run until it ends', false)
    .action(
      run((api, cmd, runId: string | undefined) => {
        const o = cmd.optsWithGlobals<{ watch: boolean; json: boolean }>();
        return embeddingsStatus(api, runId, { watch: o.watch, progress: tty(o.json) });
      }),
    );
  embeddings
    .command('cancel [runId]')
    .description('cancel a reindex run (default: the active one) and report its final counts')
    .action(run((api, _cmd, runId: string | undefined) => embeddingsCancel(api, runId)));
  embeddings
    .command('jobs')
    .description('recent reindex runs, newest first: id, entity, state, progress, started, duration')
    .option('-n, --limit <n>', 'runs to show, 1 to 200 (default 20)', parseOption.integer(1, 200))
    .action(run((api, cmd) => embeddingsJobs(api, cmd.opts<{ limit?: number }>())));
  const cache = embeddings.command('cache').description('the embedding cache');
  cache.command('status').description('entries, size, per-model use, hit rate').action(run((api) => cacheStatus(api)));
  cache
    .command('clear')
    .description('delete cache entries (all, or those not used within --older-than)')
    .option('--older-than <duration>', 'only entries not used for this long (30d, 12h, 90m)', parseOption.duration)
    .option('--model <key>', 'only entries of this model key')
    .action(run((api, cmd) => cacheClear(api, cmd.opts<{ olderThan?: string; model?: string }>())));
  program
    .command('search <words...>')
    .description('search records: kameleondb search "query" [-e ENTITY], or kameleondb search ENTITY "query"')
    .option('-e, --entity <name>', 'only this entity (default: every entity)')
    .addOption(new Option('--mode <mode>', 'retrievers (default hybrid)').choices(['hybrid', 'vector', 'keyword']))
    .option('-n, --limit <n>', 'results, 1 to 100 (default 10)', parseOption.integer(1, 100))
    .option('-t, --threshold <score>', 'drop results scoring under this (BM25, cosine similarity or RRF score by mode)', parseOption.number)
    .option('-w, --where <json>', 'equality filter on record fields, e.g. \'{"status":"open"}\'', parseOption.jsonObject)
    .option('--explain', 'ranks and scores per retriever, timings and query plans', false)
    .action(run((api, cmd, words: string[]) => search(api, words, cmd.opts())));
  return program;
}
