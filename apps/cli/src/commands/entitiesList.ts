import type { Entity, KameleonClient } from '@kameleondb/client';
import { table, type CommandResult } from '../output.js';

export async function entitiesList(api: KameleonClient): Promise<CommandResult<{ entities: Entity[] }>> {
  const data = { entities: await api.entities.list() };
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
