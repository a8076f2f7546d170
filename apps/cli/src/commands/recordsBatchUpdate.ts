import { createReadStream } from 'node:fs';
import type { BatchUpdateAnswer, KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

/**
 * `records batch-update ENTITY --file updates.jsonl`: each line `{"id": ..., ...fields}`,
 * streamed to the API, which applies all of them in one transaction or none.
 */
export async function recordsBatchUpdate(api: KameleonClient, entity: string, opts: { file: string }): Promise<CommandResult<BatchUpdateAnswer>> {
  const source = opts.file === '-' ? process.stdin : createReadStream(opts.file);
  const data = await api.records.batchUpdateNdjson(entity, source);
  return {
    data,
    human: (d) => [`updated ${d.count} records of ${entity} (${d.reembed} re-embedding, ${d.jobs} embed jobs)`, ...(d.warning ? [`warning: ${d.warning}`] : [])].join('\n'),
  };
}
