import type { KameleonClient, StoredRecord } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

/** The text form of one record: its id line, embedding state and data. */
export function describeRecord(r: StoredRecord): string {
  const e = r.embedding;
  return [
    `record ${r.id} of ${r.entity}: embedding ${e.status}${e.model ? ` (${e.model})` : ''}${e.error ? `, error: ${e.error}` : ''}`,
    `created ${r.createdAt}, updated ${r.updatedAt}`,
    JSON.stringify(r.data, null, 2),
  ].join('\n');
}

/** `records get ENTITY ID`. */
export async function recordsGet(api: KameleonClient, entity: string, id: string): Promise<CommandResult<StoredRecord>> {
  const data = await api.records.get(entity, id);
  return { data, human: describeRecord };
}
