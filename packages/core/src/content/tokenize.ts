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
 *
 * Work is linear in the text: words are found by one regex scan that never
 * backtracks (a single character class), and identifiers are chains of
 * adjacent words, so they are assembled from the words' positions instead of
 * by a regex with nested repetition (which is quadratic on long words).
 */
const WORD = /[\p{L}\p{N}]+/gu;
const JOINERS = new Set(['.', '_', '@', '#', ':', '/', '+', "'", '-']);
const MAX_TERM = 100;

export function tokenize(text: string): string[] {
  const { words, identifiers } = tokenParts(text);
  return [...words, ...identifiers];
}

/** The parts of tokenize's output: plain words, then whole identifiers (joined chains, then `#` terms); terms over 100 characters dropped. */
export interface TokenParts {
  words: string[];
  identifiers: string[];
  /** Per identifier: it is a chain joined only by apostrophes (`customer's`, `don't`): a word with a clitic, not an identifier, for a language analyzer. */
  apostropheOnly: boolean[];
}

export function tokenParts(text: string): TokenParts {
  const t = text.normalize('NFC').toLowerCase();
  const words: string[] = [];
  const identifiers: string[] = [];
  const hashed: string[] = [];
  // The current chain: words joined each by one joiner character.
  let chainStart = -1;
  let chainWords = 0;
  let hashStart = -1;
  let lastEnd = -1;
  const apostrophes: boolean[] = [];
  let onlyApostrophes = true;
  const closeChain = () => {
    if (chainWords >= 2) {
      identifiers.push(t.slice(chainStart, lastEnd));
      apostrophes.push(onlyApostrophes);
    }
    if (hashStart >= 0) hashed.push(t.slice(hashStart, lastEnd));
  };
  for (const m of t.matchAll(WORD)) {
    const start = m.index;
    const joined = chainWords > 0 && start === lastEnd + 1 && JOINERS.has(t[lastEnd]!);
    if (joined) {
      chainWords += 1;
      if (t[lastEnd] !== "'") onlyApostrophes = false;
    } else {
      if (chainWords > 0) closeChain();
      chainStart = start;
      chainWords = 1;
      onlyApostrophes = true;
      hashStart = -1;
    }
    // A `#` right before a word starts the chain's hashed term, unless one already started.
    if (hashStart < 0 && start > 0 && t[start - 1] === '#') hashStart = start - 1;
    words.push(m[0]);
    lastEnd = start + m[0].length;
  }
  if (chainWords > 0) closeChain();
  const kept = (term: string) => term.length <= MAX_TERM;
  const ids: string[] = [];
  const apostropheOnly: boolean[] = [];
  const keep = (term: string, apostrophe: boolean) => {
    if (!kept(term)) return;
    ids.push(term);
    apostropheOnly.push(apostrophe);
  };
  identifiers.forEach((term, i) => keep(term, apostrophes[i]!));
  for (const term of hashed) keep(term, false);
  return { words: words.filter(kept), identifiers: ids, apostropheOnly };
}

/** Term frequencies and length of one document. */
export function termFrequencies(text: string): { tf: Map<string, number>; length: number } {
  const terms = tokenize(text);
  const tf = new Map<string, number>();
  for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + 1);
  return { tf, length: terms.length };
}
