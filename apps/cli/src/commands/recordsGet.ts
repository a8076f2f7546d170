import type { StoredRecord } from '@kameleondb/core';
import type { ApiClient } from '../ApiClient.js';
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
export async function recordsGet(api: ApiClient, entity: string, id: string): Promise<CommandResult<StoredRecord>> {
  const data = await api.request<StoredRecord>('GET', `v1/entities/${encodeURIComponent(entity)}/records/${encodeURIComponent(id)}`);
  return { data, human: describeRecord };
}
