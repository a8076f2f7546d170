import { createRequire } from 'node:module';
import { stopwords as englishStopwords } from '@orama/stopwords/english';
import { stopwords as germanStopwords } from '@orama/stopwords/german';
import { ANALYZERS, type Analyzer } from '@kameleondb/schemas';
import { tokenize, tokenParts } from './tokenize.js';
import { ownString } from '../util/ownString.js';

export { ANALYZERS, type Analyzer } from '@kameleondb/schemas';

// A CommonJS package without types: the part of its API used here.
const snowball = createRequire(import.meta.url)('snowball-stemmers') as { newStemmer(language: string): { stem(word: string): string } };

/** Turns a text into its index terms (documents and queries alike); a document's length is the number of terms. */
export type AnalyzeText = (text: string) => string[];

/**
 * A Snowball language analyzer over the simple tokenizer's words: stop words
 * dropped, the rest stemmed (Snowball, from `snowball-stemmers`; stop lists
 * from `@orama/stopwords`, which are Snowball's lists). Identifiers (emails,
 * SKUs, order numbers, paths: chains of words joined by `. _ @ # : / + -`,
 * and `#12345`) are kept whole and unstemmed, so they are still found
 * exactly; a chain joined only by apostrophes (`customer's`) is a word with
 * a clitic, not an identifier: its words are analyzed one by one.
 */
function snowballAnalyzer(language: string, stopList: readonly string[]): AnalyzeText {
  const stemmer = snowball.newStemmer(language);
  const stop = new Set(stopList);
  // A word's stem depends on the word alone: a bounded memo keeps repeated words cheap.
  const memo = new Map<string, string>();
  const stem = (w: string): string => {
    let s = memo.get(w);
    if (s === undefined) {
      s = ownString(stemmer.stem(w));
      if (memo.size >= 50_000) memo.clear();
      // Own strings: a word is a slice of its document's text, which the memo would otherwise keep.
      memo.set(ownString(w), s);
    }
    return s;
  };
  return (text) => {
    const { words, identifiers, apostropheOnly } = tokenParts(text);
    const out: string[] = [];
    for (const w of words) if (!stop.has(w)) out.push(stem(w));
    identifiers.forEach((id, i) => {
      if (!apostropheOnly[i]) out.push(id);
    });
    return out;
  };
}

const BUILT: Record<Analyzer, () => AnalyzeText> = {
  simple: () => tokenize,
  // The package's list is Snowball's English list without "a"; Snowball's and Lucene's lists have it.
  english: () => snowballAnalyzer('english', [...englishStopwords, 'a']),
  german: () => snowballAnalyzer('german', germanStopwords),
};
const cache = new Map<Analyzer, AnalyzeText>();

/** The analyzer named `name` (one of ANALYZERS; the schemas check it at every input). */
export function analyzerOf(name: Analyzer): AnalyzeText {
  let a = cache.get(name);
  if (!a) {
    const build = BUILT[name];
    if (!build) throw new Error(`analyzer "${String(name)}" is not one of ${ANALYZERS.join(', ')}`);
    cache.set(name, (a = build()));
  }
  return a;
}

/** Term frequencies and length of one document under `analyzer`. */
export function analyzedFrequencies(analyzer: Analyzer, text: string): { tf: Map<string, number>; length: number } {
  const terms = analyzerOf(analyzer)(text);
  const tf = new Map<string, number>();
  for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + 1);
  return { tf, length: terms.length };
}
