/**
 * Characters a validated record holds: its strings' lengths, a json value's
 * serialized length, 8 for any other value. What a chunk of records costs in
 * memory grows with this, not with the number of records.
 */
export function recordChars(record: Readonly<Record<string, unknown>>): number {
  let n = 0;
  for (const key in record) {
    const v = record[key];
    n += key.length + (typeof v === 'string' ? v.length : typeof v === 'object' && v !== null ? JSON.stringify(v).length : 8);
  }
  return n;
}
