/**
 * The keyword tokenizer, used for documents and queries alike:
 * - Unicode NFC, lower-cased;
 * - words are maximal runs of letters and digits (`\p{L}\p{N}`), in any script;
 * - identifiers joined by `. _ @ # : / + ' -` (emails, SKUs, paths, versions)
 *   and numbers written `#12345` are ALSO kept whole, so
 *   `jane.doe@example.com`, `AB-1234-X` or `order #12345` match exactly and
 *   rank above documents that merely share their parts;
 * - no stop words and no stemming: what is written is what is found;
 * - terms longer than 100 characters are dropped.
 * A document's length is the number of terms it yields.
 */
const WORD = /[\p{L}\p{N}]+/gu;
const IDENTIFIER = /[\p{L}\p{N}]+(?:[._@#:/+'-][\p{L}\p{N}]+)+/gu;
const HASHED = /#[\p{L}\p{N}]+(?:[._@#:/+'-][\p{L}\p{N}]+)*/gu;
const MAX_TERM = 100;

export function tokenize(text: string): string[] {
  const t = text.normalize('NFC').toLowerCase();
  const terms: string[] = [...(t.match(WORD) ?? [])];
  for (const id of t.match(IDENTIFIER) ?? []) terms.push(id);
  for (const id of t.match(HASHED) ?? []) terms.push(id);
  return terms.filter((term) => term.length <= MAX_TERM);
}

/** Term frequencies and length of one document. */
export function termFrequencies(text: string): { tf: Map<string, number>; length: number } {
  const terms = tokenize(text);
  const tf = new Map<string, number>();
  for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + 1);
  return { tf, length: terms.length };
}
