import type { KameleonClient, RecordUpdate } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';
import { describeRecord } from './recordsGet.js';

/** The fields to change, from `--data` (already parsed) or KameleonDB's positional JSON; exactly one of them. */
export function updateFields(positional: string | undefined, data: Record<string, unknown> | undefined): Record<string, unknown> {
  if (positional !== undefined && data !== undefined) throw new CliError('give the fields once: as the JSON argument or with --data, not both', 2);
  if (data !== undefined) return data;
  if (positional === undefined) throw new CliError('give the fields to change as JSON: kameleondb records update ENTITY ID \'{"status": "active"}\' (or --data)', 2);
  let v: unknown;
  try {
    v = JSON.parse(positional);
  } catch {
    throw new CliError(`the fields must be JSON, for example '{"status": "active"}'; got ${positional}`, 2);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CliError(`the fields must be a JSON object, for example '{"status": "active"}'; got ${positional}`, 2);
  return v as Record<string, unknown>;
}

/** `records update ENTITY ID '{"status": "active"}'` (or `--data JSON`): merges the fields into the record (PATCH). */
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
