import { normalizeText } from './normalizeText.js';
import { textHash } from './textHash.js';

export interface ComposedContent {
  /** Normalized text that is embedded and searched. */
  content: string;
  /** SHA-256 of `content`. */
  hash: string;
}

function fieldText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Composes the searchable text of a record from its embed fields, in the
 * entity's order: `title: ... | body: ...`. Empty fields are left out so that
 * adding an empty field does not change the text (and its vector). Only the
 * record's own fields count: an embed field named like an object built-in
 * (`toString`, from an entity created before such names were refused) must
 * not read `Object.prototype`. Work is linear in the record's size, which
 * validateRecord bounds per field (MAX_FIELD_CHARS).
 */
export function composeContent(data: Record<string, unknown>, embedFields: readonly string[]): ComposedContent {
  const parts: string[] = [];
  for (const field of embedFields) {
    const text = normalizeText(fieldText(Object.hasOwn(data, field) ? data[field] : undefined));
    if (text !== '') parts.push(`${field}: ${text}`);
  }
  const content = parts.join(' | ');
  return { content, hash: textHash(content) };
}
