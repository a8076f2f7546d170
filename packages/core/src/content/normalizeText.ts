/**
 * The normal form of a text for hashing and embedding: Unicode NFC, trimmed,
 * runs of whitespace collapsed to one space. Two texts that differ only in
 * these ways share one cache entry and one vector.
 */
export function normalizeText(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}
