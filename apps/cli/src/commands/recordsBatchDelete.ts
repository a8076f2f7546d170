import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { BatchDeleteAnswer, KameleonClient } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';

/** The most ids one request takes (the API's cap); a longer list is refused before anything is sent. */
const MAX_IDS = 10_000;

/** Ids, one a line (blank lines and `#` comments skipped), read up to one past the cap. */
async function readIds(file: string): Promise<string[]> {
  const ids: string[] = [];
  const lines = createInterface({ input: file === '-' ? process.stdin : createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    const id = line.trim();
    if (!id || id.startsWith('#')) continue;
    ids.push(id);
    if (ids.length > MAX_IDS) break;
  }
  lines.close();
  return ids;
}

/** `records batch-delete ENTITY [ID...] [--ids a,b,c] [--file ids.txt]`: all of them in one transaction, or none. */
export async function recordsBatchDelete(
  api: KameleonClient,
  entity: string,
  opts: { ids: string[]; idList?: string | undefined; file?: string | undefined },
): Promise<CommandResult<BatchDeleteAnswer>> {
  const ids = [...opts.ids, ...(opts.idList ?? '').split(',').map((s) => s.trim()).filter(Boolean), ...(opts.file ? await readIds(opts.file) : [])];
  if (ids.length === 0) throw new CliError('name the records to delete: kameleondb records batch-delete ENTITY ID... | --ids a,b,c | --file ids.txt', 2);
  if (ids.length > MAX_IDS) throw new CliError(`at most ${MAX_IDS} ids per batch-delete; split the list`, 2);
  const data = await api.records.batchDelete(entity, ids);
  return { data, human: (d) => `deleted ${d.deleted} records of ${entity}` };
}
