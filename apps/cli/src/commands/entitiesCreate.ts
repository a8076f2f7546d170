import { readFile } from 'node:fs/promises';
import type { Entity, EntityInput, KameleonClient } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';

export interface EntitiesCreateOptions {
  field?: string[];
  embed?: string;
  file?: string;
  /** Keyword analyzer (simple, english, german); the API checks the name. */
  analyzer?: string;
}

/** One field as KameleonDB's list form writes it (the body `fields` sends). */
export interface FieldSpec {
  name: string;
  type: string;
  required?: true;
  unique?: true;
}

const FLAGS = ['required', 'unique'] as const;

/**
 * `--field NAME:TYPE[:required][:unique]` (flags in any order) as a field
 * spec; the type itself is checked by the API, which lists the allowed ones.
 * A malformed spec is a usage error (exit 2).
 */
export function parseFieldSpec(spec: string): FieldSpec {
  const [name, type, ...flags] = spec.split(':');
  const usage = (why: string) => new CliError(`--field "${spec}" must look like NAME:TYPE[:required][:unique], for example email:string:required:unique (${why})`, 2);
  if (!name || !type) throw usage('name and type are needed');
  const out: FieldSpec = { name, type };
  for (const flag of flags) {
    if (!(FLAGS as readonly string[]).includes(flag)) throw usage(`unknown flag "${flag}"; flags are ${FLAGS.join(', ')}`);
    if (out[flag as (typeof FLAGS)[number]]) throw usage(`"${flag}" is given twice`);
    out[flag as (typeof FLAGS)[number]] = true;
  }
  return out;
}

function describeField(e: Entity, name: string, type: string): string {
  const flags = FLAGS.filter((f) => (f === 'required' ? e.required : e.unique)?.includes(name));
  return [name, type, ...flags].join(':');
}

/** `entities create NAME --field title:text --field email:string:required:unique --embed title` or `--file entity.json`. */
export async function entitiesCreate(api: KameleonClient, name: string | undefined, opts: EntitiesCreateOptions): Promise<CommandResult<Entity>> {
  let body: Record<string, unknown>;
  if (opts.file) {
    body = JSON.parse(await readFile(opts.file, 'utf8')) as Record<string, unknown>;
    if (name) body.name = name;
  } else {
    if (!name) throw new CliError('entity name missing: kameleondb entities create NAME --field title:text --embed title', 2);
    const fields = (opts.field ?? []).map(parseFieldSpec);
    const embedFields = opts.embed ? opts.embed.split(',').map((s) => s.trim()).filter(Boolean) : fields.filter((f) => f.type === 'text').map((f) => f.name);
    body = { name, fields, embedFields };
  }
  if (opts.analyzer) body.analyzer = opts.analyzer;
  const entity = await api.entities.create(body as EntityInput);
  return {
    data: entity,
    human: (e) => `created entity ${e.name}: fields ${Object.entries(e.fields).map(([k, t]) => describeField(e, k, t)).join(', ')}; embedded: ${e.embedFields.join(', ')}; analyzer: ${e.analyzer}`,
  };
}
