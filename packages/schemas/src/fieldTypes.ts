/**
 * Types a record field may declare, KameleonDB's list. `text` fields are what
 * people usually embed. `number` is accepted as an alias of `float` (stored
 * as `float`; entities created before the alias keep `number`).
 */
export const FIELD_TYPES = ['text', 'string', 'integer', 'float', 'number', 'boolean', 'date', 'datetime', 'json'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** The same type under its one stored name (`number` is an alias of `float`). */
export function canonicalType(type: FieldType): FieldType {
  return type === 'number' ? 'float' : type;
}
