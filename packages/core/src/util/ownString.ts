/**
 * `s` as a string of its own. V8 makes a substring of 13 or more characters
 * a view on the string it was cut from, so a term kept from a document (a
 * Map key, a memo entry) kept the whole document's text alive. The
 * concatenation is flattened into a new string before the slice, which then
 * refers only to that.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}
