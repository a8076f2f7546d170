import type { KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

/** `records delete ENTITY ID`: the record and its search row go together. */
export async function recordsDelete(api: KameleonClient, entity: string, id: string): Promise<CommandResult<{ deleted: true; entity: string; id: string }>> {
  await api.records.delete(entity, id);
  return { data: { deleted: true, entity, id }, human: (d) => `deleted record ${d.id} of ${d.entity}` };
}
