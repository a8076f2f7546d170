import type { StoredRecord } from '@kameleondb/core';
import type { ApiClient } from '../ApiClient.js';
import type { CommandResult } from '../output.js';
import { describeRecord } from './recordsGet.js';

type Updated = StoredRecord & { reembed: boolean; warning?: string };

/** `records update ENTITY ID --data JSON`: merges the fields into the record (PATCH). */
export async function recordsUpdate(api: ApiClient, entity: string, id: string, data: Record<string, unknown>): Promise<CommandResult<Updated>> {
  const answer = await api.request<Updated>('PATCH', `v1/entities/${encodeURIComponent(entity)}/records/${encodeURIComponent(id)}`, { json: data });
  return {
    data: answer,
    human: (r) =>
      [
        `updated record ${r.id} of ${r.entity}: ${r.reembed ? 'its text changed, re-embedding' : 'its text is unchanged, the embedding stays'}`,
        ...(r.warning ? [`warning: ${r.warning}`] : []),
        describeRecord(r),
      ].join('\n'),
  };
}
