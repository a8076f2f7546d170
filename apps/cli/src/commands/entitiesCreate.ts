import { readFile } from 'node:fs/promises';
import type { ApiClient } from '../ApiClient.js';
import { CliError } from '../ApiClient.js';
import type { CommandResult } from '../output.js';

export interface EntitiesCreateOptions {
  field?: string[];
  embed?: string;
  file?: string;
}

interface Entity {
  name: string;
  fields: Record<string, string>;
  embedFields: string[];
}

/** `entities create NAME --field title:text --field body:text --embed title,body` or `--file entity.json`. */
export async function entitiesCreate(api: ApiClient, name: string | undefined, opts: EntitiesCreateOptions): Promise<CommandResult<Entity>> {
  let body: Record<string, unknown>;
  if (opts.file) {
    body = JSON.parse(await readFile(opts.file, 'utf8')) as Record<string, unknown>;
    if (name) body.name = name;
  } else {
    if (!name) throw new CliError('entity name missing: kameleondb entities create NAME --field title:text --embed title');
    const fields: Record<string, string> = {};
    for (const spec of opts.field ?? []) {
      const m = /^([^:]+):(.+)$/.exec(spec);
      if (!m) throw new CliError(`--field "${spec}" must look like NAME:TYPE, for example title:text`);
      fields[m[1]!] = m[2]!;
    }
    const embedFields = opts.embed ? opts.embed.split(',').map((s) => s.trim()).filter(Boolean) : Object.keys(fields).filter((f) => fields[f] === 'text');
    body = { name, fields, embedFields };
  }
  const entity = await api.request<Entity>('POST', 'v1/entities', { json: body });
  return {
    data: entity,
    human: (e) => `created entity ${e.name}: fields ${Object.entries(e.fields).map(([k, t]) => `${k}:${t}`).join(', ')}; embedded: ${e.embedFields.join(', ')}`,
  };
}
