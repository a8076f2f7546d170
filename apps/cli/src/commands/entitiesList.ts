import type { ApiClient } from '../ApiClient.js';
import { table, type CommandResult } from '../output.js';

interface Entity {
  name: string;
  fields: Record<string, string>;
  embedFields: string[];
  createdAt: string;
}

export async function entitiesList(api: ApiClient): Promise<CommandResult<{ entities: Entity[] }>> {
  const data = await api.request<{ entities: Entity[] }>('GET', 'v1/entities');
  return {
    data,
    human: (d) =>
      d.entities.length === 0
        ? 'no entities yet: kameleondb entities create NAME --field title:text --embed title'
        : table(
            ['ENTITY', 'FIELDS', 'EMBEDDED', 'CREATED'],
            d.entities.map((e) => [e.name, Object.entries(e.fields).map(([k, t]) => `${k}:${t}`).join(' '), e.embedFields.join(','), e.createdAt]),
          ),
  };
}
