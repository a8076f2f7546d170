// Record i: 6 of the 20 words of its subject (i mod 1000), 6 words of a shared 5,000-word
// vocabulary, and its own number. A pure function of i (raw baselines rebuild the same rows).
// Subjects give the vectors neighbourhoods, as real embeddings have: recall against an
// exact scan then measures the index, not the order of near-duplicates inside a tie.
export const SUBJECTS = 1000;
const rng = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
export const subjectWord = (s: number, k: number) => `s${s}x${k}`;

/** The records of `pnpm bench:ingest` and of the ingest measurements. */
export function ingestRecord(i: number): { title: string; body: string } {
  const r = rng(Math.imul(i + 1, 2654435761) >>> 0);
  const words = [
    ...Array.from({ length: 6 }, () => subjectWord(i % SUBJECTS, Math.floor(r() * 20))),
    ...Array.from({ length: 6 }, () => `w${Math.floor(r() * 5000).toString(36)}`),
  ];
  return { title: `Record ${i}`, body: `${words.join(' ')} detail ${i}` };
}

/** Records [from, from + n) as one NDJSON body. */
export function ndjsonOf(from: number, n: number): string {
  let body = '';
  for (let i = from; i < from + n; i++) body += `${JSON.stringify(ingestRecord(i))}\n`;
  return body;
}
