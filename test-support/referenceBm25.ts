import { createRequire } from 'node:module';
import { stopwords as english } from '@orama/stopwords/english';
import { stopwords as german } from '@orama/stopwords/german';

/**
 * Analyzers and BM25 written again for tests, independently of the engine:
 * regexes for words and identifiers (quadratic, fine on test texts), the
 * Snowball stemmer called directly, the stop lists as the package ships them.
 */
const snowball = createRequire(import.meta.url)('snowball-stemmers') as { newStemmer(language: string): { stem(word: string): string } };
const WORD = /[\p{L}\p{N}]+/gu;
const CHAIN = /[\p{L}\p{N}]+(?:[._@#:/+'-][\p{L}\p{N}]+)+/gu;
const HASHED = /#[\p{L}\p{N}]+(?:[._@#:/+'-][\p{L}\p{N}]+)*/gu;
const APOSTROPHES_ONLY = /^[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)+$/u;

export type RefAnalyzer = 'simple' | 'english' | 'german';

export function refAnalyze(analyzer: RefAnalyzer, text: string): string[] {
  const t = text.normalize('NFC').toLowerCase();
  const words = t.match(WORD) ?? [];
  const chains = t.match(CHAIN) ?? [];
  const hashed = t.match(HASHED) ?? [];
  if (analyzer === 'simple') return [...words, ...chains, ...hashed].filter((x) => x.length <= 100);
  const stemmer = snowball.newStemmer(analyzer);
  // As the engine documents it: the package's English list plus "a".
  const stop = new Set(analyzer === 'english' ? [...english, 'a'] : german);
  const out = words.filter((w) => w.length <= 100 && !stop.has(w)).map((w) => stemmer.stem(w));
  out.push(...chains.filter((c) => !APOSTROPHES_ONLY.test(c)), ...hashed);
  return out.filter((x) => x.length <= 100);
}

export interface RefDoc {
  id: string;
  entity: string;
  analyzer: RefAnalyzer;
  text: string;
}

/**
 * Okapi BM25 (k1 1.2, b 0.75) of `query` over `docs` searched as one
 * collection: N and the average length over all of them, a term's df over
 * the documents of its analyzer. Hits with a score, score desc then id asc.
 */
export function refSearch(docs: readonly RefDoc[], query: string, limit: number): { id: string; entity: string; score: number }[] {
  const analyzed = docs.map((d) => ({ ...d, terms: refAnalyze(d.analyzer, d.text) }));
  const n = analyzed.length;
  const avgdl = analyzed.reduce((s, d) => s + d.terms.length, 0) / n;
  const df = new Map<string, number>();
  for (const d of analyzed) for (const t of new Set(d.terms)) df.set(`${d.analyzer}\u0000${t}`, (df.get(`${d.analyzer}\u0000${t}`) ?? 0) + 1);
  const hits = analyzed.map((d) => {
    let score = 0;
    for (const q of new Set(refAnalyze(d.analyzer, query))) {
      const tf = d.terms.filter((x) => x === q).length;
      if (!tf) continue;
      const f = df.get(`${d.analyzer}\u0000${q}`)!;
      const idf = Math.log(1 + (n - f + 0.5) / (f + 0.5));
      score += (idf * tf * 2.2) / (tf + 1.2 * (1 - 0.75 + (0.75 * d.terms.length) / avgdl));
    }
    return { id: d.id, entity: d.entity, score };
  });
  return hits
    .filter((h) => h.score > 0)
    .sort((a, b) => (Math.abs(a.score - b.score) > 1e-9 ? b.score - a.score : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, limit);
}
