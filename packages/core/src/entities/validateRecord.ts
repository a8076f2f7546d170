import { ValidationError } from '../errors.js';
import type { Entity, FieldType } from './entitySchema.js';

function matches(type: FieldType, value: unknown): boolean {
  switch (type) {
    case 'text':
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'json':
      return true;
  }
}

/**
 * Checks one record against its entity: an object whose keys are declared
 * fields with values of the declared type (null allowed). `where` names the
 * record in the error (`records[12]`, `line 13`).
 */
export function validateRecord(entity: Entity, value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`${where}: a record must be a JSON object of fields, got ${Array.isArray(value) ? 'an array' : typeof value}`, {
      at: where,
    });
  }
  const record = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(record)) {
    const type = entity.fields[key];
    if (type === undefined) {
      throw new ValidationError(
        `${where}: unknown field "${key}" for entity "${entity.name}"; allowed fields: ${Object.keys(entity.fields).join(', ')}`,
        { at: where, field: key },
      );
    }
    if (v !== null && !matches(type, v)) {
      throw new ValidationError(`${where}: field "${key}" must be ${type}, got ${JSON.stringify(v)?.slice(0, 80)}`, {
        at: where,
        field: key,
        expected: type,
      });
    }
  }
  return record;
}
