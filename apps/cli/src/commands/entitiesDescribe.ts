import type { EntityDescription, KameleonClient } from '@kameleondb/client';
import { table, type CommandResult } from '../output.js';

/** `entities describe NAME`: fields with their flags, embedded fields, record and embedding counts. */
export async function entitiesDescribe(api: KameleonClient, name: string): Promise<CommandResult<EntityDescription>> {
  const data = await api.entities.get(name);
  return {
    data,
    human: (e) => {
      const flags = (f: string) => [e.required.includes(f) ? 'required' : '', e.unique.includes(f) ? 'unique' : '', e.embedFields.includes(f) ? 'embedded' : ''].filter(Boolean).join(', ');
      const c = e.embedding;
      return [
        `entity ${e.name}: ${e.records} records; embeddings ${c.indexed} indexed, ${c.pending} pending, ${c.failed} failed, ${c.stale} stale`,
        `analyzer ${e.analyzer}${e.analyzerChange ? ` (rebuilding for ${e.analyzerChange.to}: run ${e.analyzerChange.runId})` : ''}`,
        `created ${e.createdAt}, updated ${e.updatedAt}`,
        '',
        table(['FIELD', 'TYPE', 'FLAGS'], Object.entries(e.fields).map(([f, t]) => [f, t, flags(f)])),
      ].join('\n');
    },
  };
}
