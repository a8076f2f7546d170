import { unstorableText } from '../content/unstorableText.js';
import { ValidationError } from '../errors.js';
import type { Entity } from '@kameleondb/schemas';
import type { FieldType } from '@kameleondb/schemas';

/**
 * Longest value of one field, in characters (UTF-16 code units): a string's
 * length, or for a `json` field the total length of its strings and keys
 * plus one per value. Keeps the text, its hash and its keyword analysis
 * bounded per field.
 */
export const MAX_FIELD_CHARS = 1_000_000;

/** Deepest nesting of a `json` field value (arrays and objects). */
export const MAX_JSON_DEPTH = 64;

/**
 * Longest value of a `unique` field, in characters: its btree index entry
 * must fit Postgres's limit (a third of a page), at up to 3 UTF-8 bytes a
 * character with room to spare.
 */
export const MAX_UNIQUE_CHARS = 512;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date `YYYY-MM-DD` that exists (no 2026-02-30). */
function isDate(value: string): boolean {
  const m = DATE_RE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

function matches(type: FieldType, value: unknown): boolean {
  switch (type) {
    case 'text':
    case 'string':
      return typeof value === 'string';
    case 'number':
    case 'float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'date':
      return typeof value === 'string' && isDate(value);
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'json':
      return true;
  }
}

/** A short, printable description of a value for an error message (never the whole value). */
function describe(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value.slice(0, 60))}${value.length > 60 ? '…' : ''}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

interface Node {
  value: unknown;
  depth: number;
  parent: Node | undefined;
  key: string | number | undefined;
}

function pathOf(field: string, node: Node): string {
  const parts: string[] = [];
  for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) {
    parts.push(typeof n.key === 'number' ? `[${n.key}]` : `.${JSON.stringify(n.key.slice(0, 40))}`);
  }
  return field + parts.reverse().join('');
}

/**
 * Walks a json value without recursion (its depth is what is being bounded)
 * and fails on the first string or key Postgres cannot store, on nesting
 * past MAX_JSON_DEPTH, or on a size past MAX_FIELD_CHARS.
 */
function checkJson(where: string, field: string, root: unknown): void {
  const fail = (message: string, node: Node) => {
    throw new ValidationError(`${where}: field "${field}": ${message} at ${pathOf(field, node)}`, { at: where, field, path: pathOf(field, node) });
  };
  let size = 0;
  const stack: Node[] = [{ value: root, depth: 0, parent: undefined, key: undefined }];
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.value;
    size += 1;
    if (typeof v === 'string') {
      size += v.length;
      const why = unstorableText(v);
      if (why) fail(`a string holds ${why}`, node);
    } else if (typeof v === 'number' && !Number.isFinite(v)) {
      fail('numbers must be finite', node);
    } else if (typeof v === 'object' && v !== null) {
      if (node.depth >= MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH} levels is not allowed`, node);
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: node.depth + 1, parent: node, key: i });
      } else {
        for (const [k, child] of Object.entries(v)) {
          const keyNode: Node = { value: child, depth: node.depth + 1, parent: node, key: k };
          size += k.length;
          const why = unstorableText(k);
          if (why) fail(`a key holds ${why}`, keyNode);
          stack.push(keyNode);
        }
      }
    }
    if (size > MAX_FIELD_CHARS) {
      throw new ValidationError(`${where}: field "${field}" is too large: a json value may hold at most ${MAX_FIELD_CHARS} characters`, {
        at: where,
        field,
        limit: MAX_FIELD_CHARS,
      });
    }
  }
}

/**
 * Checks one record against its entity: an object whose keys are declared
 * fields with values of the declared type (null allowed, except in a
 * required field), strings Postgres can store, each value at most
 * MAX_FIELD_CHARS long (MAX_UNIQUE_CHARS in a unique field). `mode`
 * `insert` (the default) also wants every required field present; a
 * `patch` merges into a stored record, so it may leave them out but not set
 * them to null. `where` names the record in the error (`records[12]`,
 * `line 13`). Returns the record's own fields in a prototype-less object,
 * so no field name can reach `Object.prototype`.
 */
export function validateRecord(entity: Entity, value: unknown, where: string, mode: 'insert' | 'patch' = 'insert'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`${where}: a record must be a JSON object of fields, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`, {
      at: where,
    });
  }
  const record: Record<string, unknown> = Object.create(null);
  for (const [key, v] of Object.entries(value)) {
    const type = Object.hasOwn(entity.fields, key) ? entity.fields[key] : undefined;
    if (type === undefined) {
      throw new ValidationError(
        `${where}: unknown field ${describe(key)} for entity "${entity.name}"; allowed fields: ${Object.keys(entity.fields).join(', ')}`,
        { at: where, field: key.slice(0, 100) },
      );
    }
    if (typeof v === 'string') {
      if (v.length > MAX_FIELD_CHARS) {
        throw new ValidationError(`${where}: field "${key}" is too long: ${v.length} characters, the limit is ${MAX_FIELD_CHARS}`, {
          at: where,
          field: key,
          limit: MAX_FIELD_CHARS,
        });
      }
      const why = unstorableText(v);
      if (why) throw new ValidationError(`${where}: field "${key}" holds ${why}`, { at: where, field: key });
    }
    if (v !== null && !matches(type, v)) {
      throw new ValidationError(`${where}: field "${key}" must be ${type === 'date' ? 'a date (YYYY-MM-DD)' : type}, got ${describe(v)}`, {
        at: where,
        field: key,
        expected: type,
      });
    }
    if (type === 'json' && typeof v === 'object' && v !== null) checkJson(where, key, v);
    if (v === null && entity.required.includes(key)) {
      throw new ValidationError(`${where}: field "${key}" is required and cannot be null`, { at: where, field: key });
    }
    if (typeof v === 'string' && v.length > MAX_UNIQUE_CHARS && entity.unique.includes(key)) {
      throw new ValidationError(`${where}: field "${key}" is unique and too long: ${v.length} characters, the limit for a unique field is ${MAX_UNIQUE_CHARS}`, {
        at: where,
        field: key,
        limit: MAX_UNIQUE_CHARS,
      });
    }
    record[key] = v;
  }
  if (mode === 'insert') {
    const missing = entity.required.find((f) => !Object.hasOwn(record, f));
    if (missing !== undefined) throw new ValidationError(`${where}: required field "${missing}" is missing`, { at: where, field: missing });
  }
  return record;
}
