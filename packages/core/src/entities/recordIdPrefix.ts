/** The text form of a UUID: where its dashes stand. */
const UUID_TEMPLATE = 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx';

/** Fewest hex characters of an id prefix: shorter ones match too many records to be useful. */
export const MIN_ID_PREFIX = 4;

/** A record id as a client may type it: the whole UUID, or the range of ids a prefix stands for. */
export interface RecordIdRange {
  /** The reference as given. */
  ref: string;
  /** Lowest and highest UUID starting with the prefix (equal for a whole id). */
  lo: string;
  hi: string;
  exact: boolean;
}

const asUuid = (hex32: string) => `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;

/**
 * Reads a record id or a unique prefix of one: at least MIN_ID_PREFIX hex
 * characters, any case, with no dashes or with dashes where the UUID text
 * form has them (`0190ab12-3c`). The prefix becomes the range [lo, hi] of
 * UUIDs starting with it: a uuid btree orders ids as their hex text, so the
 * lookup is an index range scan. Returns null for anything else.
 */
export function recordIdRange(ref: string): RecordIdRange | null {
  const text = ref.toLowerCase();
  let hex: string;
  if (text.includes('-')) {
    if (text.length > UUID_TEMPLATE.length) return null;
    for (let i = 0; i < text.length; i += 1) {
      if ((UUID_TEMPLATE[i] === '-') !== (text[i] === '-')) return null;
    }
    hex = text.replace(/-/g, '');
  } else hex = text;
  if (hex.length < MIN_ID_PREFIX || hex.length > 32 || !/^[0-9a-f]+$/.test(hex)) return null;
  return { ref, lo: asUuid(hex.padEnd(32, '0')), hi: asUuid(hex.padEnd(32, 'f')), exact: hex.length === 32 };
}
