import type { EntityPatch, EntityUpdate, KameleonClient } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';
import { parseFieldSpec } from './entitiesCreate.js';

export interface EntitiesAlterOptions {
  /** `F:T[:required][:unique]`, repeatable. */
  add: string[];
  /** `OLD=NEW` (or KameleonDB's `OLD:NEW`), repeatable. */
  rename: string[];
  /** Field names, repeatable. */
  drop: string[];
  /** A new keyword analyzer: the postings are rebuilt in the background. */
  analyzer?: string;
}

/** `OLD=NEW` or `OLD:NEW` as a pair; anything else is a usage error. */
export function parseRename(spec: string): [string, string] {
  const m = /^([^=:]+)[=:]([^=:]+)$/.exec(spec.trim());
  if (!m) throw new CliError(`--rename "${spec}" must look like OLD=NEW (or OLD:NEW), for example name=full_name`, 2);
  return [m[1]!.trim(), m[2]!.trim()];
}

/**
 * `entities alter NAME --add F:T[:required][:unique] --rename OLD=NEW --drop F`:
 * one PATCH, applied by the API in one transaction (all or nothing).
 */
export async function entitiesAlter(api: KameleonClient, name: string, opts: EntitiesAlterOptions): Promise<CommandResult<EntityUpdate>> {
  if (!opts.add.length && !opts.rename.length && !opts.drop.length && !opts.analyzer) {
    throw new CliError('say what to change: --add F:T[:required][:unique], --rename OLD=NEW or --drop F (each repeatable), or --analyzer NAME', 2);
  }
  const renames = opts.rename.map(parseRename);
  // The types are the API's to check: it names the allowed ones.
  const patch: EntityPatch = {
    ...(opts.add.length ? { fields: opts.add.map(parseFieldSpec) as NonNullable<EntityPatch['fields']> } : {}),
    ...(renames.length ? { renameFields: Object.fromEntries(renames) } : {}),
    ...(opts.drop.length ? { dropFields: opts.drop } : {}),
    ...(opts.analyzer ? { analyzer: opts.analyzer as NonNullable<EntityPatch['analyzer']> } : {}),
  };
  const data = await api.entities.update(name, patch);
  return {
    data,
    human: (e) =>
      [
        `altered entity ${e.name}: fields ${Object.entries(e.fields).map(([f, t]) => `${f}:${t}`).join(', ')}; embedded: ${e.embedFields.join(', ')}`,
        ...(e.analyzerRun
          ? [`analyzer ${e.analyzerRun.from} -> ${e.analyzerRun.to}: postings rebuild ${e.analyzerRun.id} started; searches use ${e.analyzerRun.from} until it switches (kameleondb entities analyzer-run ${e.analyzerRun.id})`]
          : []),
        ...(e.reindex ? [`search texts changed: reindex run ${e.reindex.id} started (kameleondb embeddings status ${e.reindex.id} --watch)`] : []),
      ].join('\n'),
  };
}
