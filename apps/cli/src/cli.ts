import { Command, Option } from 'commander';
import { ApiClient } from './ApiClient.js';
import { print, type CommandResult } from './output.js';
import { entitiesCreate } from './commands/entitiesCreate.js';
import { entitiesList } from './commands/entitiesList.js';
import { recordsInsert } from './commands/recordsInsert.js';
import { embeddingsStatus } from './commands/embeddingsStatus.js';

/** Builds the `kameleondb` program: each action returns data, printed in one place. */
export function buildCli(env: Record<string, string | undefined> = process.env): Command {
  const program = new Command('kameleondb')
    .description('Control the KameleonDB embedding pipeline through its HTTP API')
    .addOption(new Option('--api-url <url>', 'API base URL').env('KDB_API_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--api-key <key>', 'API key (Bearer token)').env('KDB_API_KEY'))
    .option('--json', 'print results as JSON', false)
    .showHelpAfterError();

  const run = (fn: (api: ApiClient, cmd: Command, ...args: any[]) => Promise<CommandResult<any>>) =>
    async function (this: Command, ...args: unknown[]) {
      const g = this.optsWithGlobals<{ apiUrl: string; apiKey?: string; json: boolean }>();
      const api = new ApiClient({ url: g.apiUrl ?? env.KDB_API_URL ?? 'http://127.0.0.1:8080', apiKey: g.apiKey });
      print(await fn(api, this, ...args.slice(0, -2)), g.json);
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

  const records = program.command('records').description('write records');
  records
    .command('insert <entity>')
    .description('stream records from an NDJSON file (one JSON object a line) to the API')
    .requiredOption('--file <path>', 'NDJSON file, or - for stdin')
    .option('--wait', 'answer when every record is embedded (or failed)', false)
    .action(
      run((api, cmd, entity: string) => {
        const o = cmd.optsWithGlobals<{ file: string; wait: boolean; json: boolean }>();
        return recordsInsert(api, entity, { file: o.file, wait: o.wait, progress: Boolean(process.stderr.isTTY) && !o.json });
      }),
    );

  const embeddings = program.command('embeddings').description('embedding status and jobs');
  embeddings.command('status').description('provider, model and per-entity indexed/pending/failed counts').action(run((api) => embeddingsStatus(api)));
  return program;
}
