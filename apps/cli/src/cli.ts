import { Command, Option } from 'commander';
import { KameleonClient, PROVIDER_NAMES } from '@kameleondb/client';
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
import { search, type SearchOptions } from './commands/search.js';
import { embeddingsJobs } from './commands/embeddingsJobs.js';
import { recordsGet } from './commands/recordsGet.js';
import { recordsList } from './commands/recordsList.js';
import { recordsUpdate } from './commands/recordsUpdate.js';
import { recordsDelete } from './commands/recordsDelete.js';
import { recordsBatchDelete } from './commands/recordsBatchDelete.js';
import { recordsBatchUpdate } from './commands/recordsBatchUpdate.js';
import { entitiesDescribe } from './commands/entitiesDescribe.js';
import { entitiesAlter } from './commands/entitiesAlter.js';
import { entitiesAnalyzerRun } from './commands/entitiesAnalyzerRun.js';
import { embeddingsJobsClean } from './commands/embeddingsJobsClean.js';
import { searchBenchmark } from './commands/searchBenchmark.js';
import { searchMetrics } from './commands/searchMetrics.js';
import { embeddingsSpaces } from './commands/embeddingsSpaces.js';
import { embeddingsMigrate } from './commands/embeddingsMigrate.js';
import { embeddingsActivate } from './commands/embeddingsActivate.js';
import { embeddingsDrop } from './commands/embeddingsDrop.js';
import { updateFields } from './commands/recordsUpdate.js';
import { confirm } from './confirm.js';
import { CliError } from './CliError.js';
import { parseOption } from './parseOption.js';

/**
 * Whether the command line asks for JSON. Read from argv, not from parsed
 * options: a usage error can come before commander has parsed `--json`.
 */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const args = end === -1 ? argv : argv.slice(0, end);
  return args.includes('--json') || args.includes('-j');
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
    .option('-j, --json', 'print results as JSON', false)
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

  const repeat = (v: string, acc: string[]) => [...acc, v];
  const entities = program.command('entities').alias('schema').description('define the entities records belong to (alias: schema)');
  entities
    .command('create [name]')
    .description('create an entity')
    .option('-f, --field <name:type>', 'a field NAME:TYPE[:required][:unique], repeatable (types: string, text, integer, float, boolean, date, datetime, json)', repeat, [])
    .option('--embed <fields>', 'comma-separated fields whose text is embedded (default: the text fields)')
    .option('--file <entity.json>', 'read {name, fields, embedFields} from a file')
    .option('--analyzer <name>', 'keyword analyzer: simple (default: words as written), english or german (stemmed, stop words dropped, identifiers kept whole)')
    .action(run((api, cmd, name: string | undefined) => entitiesCreate(api, name, cmd.opts())));
  entities.command('list').description('list entities').action(run((api) => entitiesList(api)));
  entities
    .command('describe <name>')
    .description('an entity: fields and flags, embedded fields, record and embedding counts')
    .action(run((api, _cmd, name: string) => entitiesDescribe(api, name)));
  entities
    .command('alter <name>')
    .description('add, rename or drop fields in one step (search texts are recomputed when they change)')
    .option('--add <spec>', 'add a field NAME:TYPE[:required][:unique], repeatable', repeat, [])
    .option('--rename <old=new>', 'rename a field, OLD=NEW (or OLD:NEW), repeatable', repeat, [])
    .option('--drop <field>', 'drop a field and its values, repeatable', repeat, [])
    .option('--analyzer <name>', 'change the keyword analyzer (simple, english, german): postings are rebuilt in the background, searches use the old one until the switch')
    .action(run((api, cmd, name: string) => entitiesAlter(api, name, cmd.opts<{ add: string[]; rename: string[]; drop: string[]; analyzer?: string }>())));
  entities
    .command('analyzer-run <id>')
    .description('a postings rebuild for a new analyzer: state and progress (--cancel stops it; the old analyzer stays)')
    .option('--cancel', 'cancel the run')
    .action(run((api, cmd, id: string) => entitiesAnalyzerRun(api, id, cmd.opts<{ cancel?: boolean }>())));

  // `data` is KameleonDB's name for this group; its lines run as written.
  const records = program.command('records').alias('data').description('read and write records (alias: data)');
  // KameleonDB writes --from-file where this CLI writes --file: both work.
  const fromFile = () => new Option('--from-file <path>', 'the same as --file').hideHelp();
  const fileOf = (o: { file?: string; fromFile?: string }) => {
    if (o.file && o.fromFile) throw new CliError('give --file or --from-file, not both', 2);
    return o.file ?? o.fromFile;
  };
  records
    .command('insert <entity> [json]')
    .description('insert a record or an array given as JSON, a .json file, or stream an NDJSON file (one JSON object a line)')
    .option('-f, --file <path>', 'NDJSON file (.jsonl; - for stdin), or a .json file of one record or an array')
    .addOption(fromFile())
    .option('--batch', 'read the file as NDJSON whatever its name', false)
    .option('--wait', 'answer when every record is embedded (or failed)', false)
    .option('--idempotency-key <key>', 'retry-safe: the same key and file never insert twice (kept KDB_IDEMPOTENCY_TTL, default 24h)')
    .action(
      run((api, cmd, entity: string, json: string | undefined) => {
        const o = cmd.optsWithGlobals<{ file?: string; fromFile?: string; batch: boolean; wait: boolean; json: boolean; idempotencyKey?: string }>();
        return recordsInsert(api, entity, { data: json, file: fileOf(o), batch: o.batch, wait: o.wait, idempotencyKey: o.idempotencyKey, progress: Boolean(process.stderr.isTTY) && !o.json });
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
    .command('update <entity> <id> [json]')
    .description('merge fields into a record, e.g. \'{"status":"closed"}\'; a changed text is re-embedded')
    .option('--data <json>', 'the fields to change, instead of the JSON argument', parseOption.jsonObject)
    .action(
      run((api, cmd, entity: string, id: string, json: string | undefined) =>
        recordsUpdate(api, entity, id, updateFields(json, cmd.opts<{ data?: Record<string, unknown> }>().data)),
      ),
    );
  records
    .command('delete <entity> <id>')
    .description('delete a record and its embedding')
    .action(run((api, _cmd, entity: string, id: string) => recordsDelete(api, entity, id)));
  records
    .command('batch-update <entity>')
    .description('merge fields into many records from NDJSON lines {"id": ..., ...fields}: all of them or none')
    .option('-f, --file <path>', 'NDJSON file of {"id": ..., ...fields} lines (- for stdin)')
    .addOption(fromFile())
    .action(
      run((api, cmd, entity: string) => {
        const file = fileOf(cmd.opts<{ file?: string; fromFile?: string }>());
        if (!file) throw new CliError(`give the changes: kameleondb records batch-update ${entity} --file updates.jsonl (lines {"id": ..., ...fields})`, 2);
        return recordsBatchUpdate(api, entity, { file });
      }),
    );
  records
    .command('batch-delete <entity> [ids...]')
    .description('delete records by id (or unique prefix), all of them or none')
    .option('--ids <a,b,c>', 'comma-separated ids')
    .option('--file <ids.txt>', 'ids one a line (- for stdin)')
    .addOption(fromFile())
    .action(
      run((api, cmd, entity: string, ids: string[]) => {
        const o = cmd.opts<{ ids?: string; file?: string; fromFile?: string }>();
        return recordsBatchDelete(api, entity, { ids, idList: o.ids, file: fileOf(o) });
      }),
    );
  records
    .command('info <entity>')
    .description('the entity of the records: fields, record and embedding counts (as entities describe)')
    .action(run((api, _cmd, name: string) => entitiesDescribe(api, name)));

  const tty = (json: boolean) => Boolean(process.stderr.isTTY) && !json;
  // Only a person at a terminal can answer; a pipe or a script must say --yes.
  const ask = () => (process.stdin.isTTY && process.stderr.isTTY ? (q: string) => confirm(q, { input: process.stdin, output: process.stderr }) : undefined);
  const embeddings = program.command('embeddings').description('embedding status, reindex runs, embedding spaces and the embedding cache');
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
    .option('--clean', 'delete finished runs instead (with --older-than)', false)
    .option('--older-than <duration>', 'with --clean: runs that ended longer ago than this (7d, 12h, 90m)', parseOption.duration)
    .action(
      run((api, cmd): Promise<CommandResult<unknown>> => {
        const o = cmd.opts<{ limit?: number; clean: boolean; olderThan?: string }>();
        if (!o.clean) {
          if (o.olderThan) throw new CliError('--older-than goes with --clean: kameleondb embeddings jobs --clean --older-than 7d', 2);
          return embeddingsJobs(api, o);
        }
        if (!o.olderThan) throw new CliError('--clean needs --older-than, e.g. kameleondb embeddings jobs --clean --older-than 7d', 2);
        if (o.limit !== undefined) throw new CliError('--limit does not go with --clean', 2);
        return embeddingsJobsClean(api, { olderThan: o.olderThan });
      }),
    );
  embeddings
    .command('spaces')
    .description('embedding spaces: key, state, provider/model/dimensions, rows embedded/total, build run')
    .action(run((api) => embeddingsSpaces(api)));
  embeddings
    .command('migrate')
    .description('build an embedding space of another provider, model or size; search stays on the active one until the switch')
    .addOption(new Option('--provider <name>', 'embedding provider').choices(PROVIDER_NAMES).makeOptionMandatory())
    .requiredOption('--model <name>', 'model name of the provider')
    .requiredOption('--dimensions <n>', 'vector size, 1 to 2000', parseOption.integer(1, 2000))
    .option('--base-url <url>', 'an OpenAI-compatible server (never a secret: the key stays in OPENAI_API_KEY)')
    .option('--manual', 'build only; switch later with kameleondb embeddings activate KEY', false)
    .option('--dry-run', 'report rows, distinct texts, cached, tokens, requests and cost; change nothing', false)
    .option('--background', 'print the space and its build run and return at once', false)
    .action(
      run((api, cmd) => {
        const o = cmd.optsWithGlobals<{ provider: (typeof PROVIDER_NAMES)[number]; model: string; dimensions: number; baseUrl?: string; manual: boolean; dryRun: boolean; background: boolean; json: boolean }>();
        return embeddingsMigrate(api, { ...o, progress: tty(o.json) });
      }),
    );
  embeddings
    .command('activate <key>')
    .description('switch search to a space (a retired one, or one built with --manual), by its key provider:model:dimensions')
    .action(run((api, _cmd, key: string) => embeddingsActivate(api, key)));
  embeddings
    .command('drop <key>')
    .description('delete a space that is not active, with its vectors and segments: asks on a terminal, else needs --yes')
    .option('-y, --yes', 'drop without asking', false)
    .action(run((api, cmd, key: string) => embeddingsDrop(api, key, { yes: cmd.opts<{ yes: boolean }>().yes, confirm: ask() })));
  const cache = embeddings.command('cache').description('the embedding cache');
  cache.command('status').description('entries, size, per-model use, hit rate').action(run((api) => cacheStatus(api)));
  cache
    .command('clear')
    .description('delete cache entries not used within --older-than and/or of --model; every entry with --all (confirmed)')
    .option('--older-than <duration>', 'only entries not used for this long (30d, 12h, 90m)', parseOption.duration)
    .option('--model <key>', 'only entries of this model key')
    .option('--all', 'every entry (also what no filter means): asks on a terminal, else needs --yes', false)
    .option('-y, --yes', 'delete every entry without asking', false)
    .action(
      run((api, cmd) => {
        const o = cmd.opts<{ olderThan?: string; model?: string; all: boolean; yes: boolean }>();
        return cacheClear(api, { ...o, confirm: ask() });
      }),
    );
  program
    .command('search <words...>')
    .description(
      'search records: kameleondb search "query" [-e ENTITY], or kameleondb search ENTITY "query"; kameleondb search metrics: searches, cache hit rate and latency of the API process (to search for the word "metrics", give -e ENTITY)',
    )
    .option('-e, --entity <name>', 'only this entity (default: every entity)')
    .addOption(new Option('--mode <mode>', 'retrievers (default hybrid)').choices(['hybrid', 'vector', 'keyword']))
    .option('-n, --limit <n>', 'results, 1 to 100 (default 10)', parseOption.integer(1, 100))
    .option('-t, --threshold <score>', 'drop results scoring under this (BM25, cosine similarity or RRF score by mode)', parseOption.number)
    .option('-w, --where <json>', 'equality filter on record fields, e.g. \'{"status":"open"}\'', parseOption.jsonObject)
    .option('--explain', 'ranks and scores per retriever, timings and query plans', false)
    .addOption(new Option('--fusion <method>', 'hybrid: how the two rankings are fused (default rrf)').choices(['rrf', 'linear']))
    .option('--rrf-k <k>', 'with rrf: the constant k, 1 to 1000 (default 60)', parseOption.integer(1, 1000))
    .option('--weights <k,v>', 'with --fusion linear (required): keyword and vector weights, e.g. 0.3,0.7', parseOption.weights)
    .addOption(new Option('--normalization <n>', 'with --fusion linear: how scores are normalized (default minmax)').choices(['minmax', 'l2', 'zscore']))
    .option('--no-cache', 'bypass the result cache (the answer is computed now)')
    .option('--benchmark', 'run the search --runs times; print p50/p95/p99 of client time and of took_ms', false)
    .option('--runs <n>', 'with --benchmark: how many times, 1 to 10000 (default 100)', parseOption.integer(1, 10_000))
    .action(
      run((api, cmd, words: string[]): Promise<CommandResult<unknown>> => {
        const o = cmd.opts<SearchOptions & { benchmark: boolean; runs?: number }>();
        const searchFlags = (['entity', 'mode', 'limit', 'threshold', 'where', 'fusion', 'rrfK', 'weights', 'normalization'] as const).some((k) => o[k] !== undefined);
        if (words.length === 1 && words[0] === 'metrics' && !searchFlags && !o.explain && !o.benchmark && o.cache) return searchMetrics(api);
        if (o.runs !== undefined && !o.benchmark) throw new CliError('--runs goes with --benchmark: kameleondb search QUERY --benchmark --runs 100', 2);
        return o.benchmark ? searchBenchmark(api, words, { ...o, runs: o.runs ?? 100 }) : search(api, words, o);
      }),
    );
  return program;
}
