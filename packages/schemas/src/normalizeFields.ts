import { canonicalType, type FieldType } from './fieldTypes.js';

interface FieldConstraints {
  required?: boolean | undefined;
  unique?: boolean | undefined;
}

/** `fields` as a request may send it: a map of types or specs, or KameleonDB's list. */
export type FieldsInput =
  | Record<string, FieldType | ({ type: FieldType } & FieldConstraints)>
  | ({ name: string; type: FieldType } & FieldConstraints)[];

export interface NormalizedFields {
  /** Prototype-less: field → type, `number` written as `float`. */
  fields: Record<string, FieldType>;
  required: string[];
  unique: string[];
}

/** Field names in declaration order, whichever form `fields` came in. */
export function fieldNames(fields: FieldsInput): string[] {
  return Array.isArray(fields) ? fields.map((f) => f.name) : Object.keys(fields);
}

/** Both forms of `fields` into the one stored shape, so a list and the equivalent map give the same entity. */
export function normalizeFields(input: FieldsInput): NormalizedFields {
  const out: NormalizedFields = { fields: Object.create(null) as Record<string, FieldType>, required: [], unique: [] };
  const entries = Array.isArray(input) ? input.map((f) => [f.name, f] as const) : Object.entries(input);
  for (const [name, spec] of entries) {
    const s = typeof spec === 'string' ? { type: spec } : spec;
    out.fields[name] = canonicalType(s.type);
    if (s.required) out.required.push(name);
    if (s.unique) out.unique.push(name);
  }
  return out;
}
