import type { ApiClient } from '../ApiClient.js';
import type { CommandResult } from '../output.js';

/** `records delete ENTITY ID`: the record and its search row go together. */
export async function recordsDelete(api: ApiClient, entity: string, id: string): Promise<CommandResult<{ deleted: true; entity: string; id: string }>> {
  await api.request<null>('DELETE', `v1/entities/${encodeURIComponent(entity)}/records/${encodeURIComponent(id)}`);
  return { data: { deleted: true, entity, id }, human: (d) => `deleted record ${d.id} of ${d.entity}` };
}
