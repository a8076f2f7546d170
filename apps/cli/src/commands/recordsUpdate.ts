import type { KameleonClient, RecordUpdate } from '@kameleondb/client';
import type { CommandResult } from '../output.js';
import { describeRecord } from './recordsGet.js';

/** `records update ENTITY ID --data JSON`: merges the fields into the record (PATCH). */
export async function recordsUpdate(api: KameleonClient, entity: string, id: string, data: Record<string, unknown>): Promise<CommandResult<RecordUpdate>> {
  const answer = await api.records.update(entity, id, data);
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
