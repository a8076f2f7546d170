/**
 * bench:keyword's corpus and queries (shared with keywordTail.ts): a
 * deterministic Zipfian corpus (s = 1 over 50,000 words) of 20–300 words per
 * record and one `team` field of 10 values.
 */
const VOCAB = 50_000;
const TEAMS = 10;

/** mulberry32: a small deterministic generator, so every run and size draws the same corpus prefix. */
function generator(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
// Zipf (s = 1): P(rank r) ∝ 1/r, drawn by binary search in the cumulative weights.
const cumulative = new Float64Array(VOCAB);
for (let r = 1, s = 0; r <= VOCAB; r++) cumulative[r - 1] = s += 1 / r;
export const word = (rank: number) => `w${rank.toString(36)}`;
function zipfRank(u: number): number {
  const x = u * cumulative[VOCAB - 1]!;
  let lo = 0;
  let hi = VOCAB - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}
/** The first `count` records of bench:keyword's corpus: 20–300 Zipfian words and a team each. */
export function* corpus(count: number) {
  const rand = generator(20261201);
  for (let i = 0; i < count; i++) {
    const len = 20 + Math.floor(rand() * 281);
    const words = Array.from({ length: len }, () => word(zipfRank(rand())));
    yield { body: words.join(' '), team: `t${Math.floor(rand() * TEAMS)}` };
  }
}

export type Query = { kind: string; q: string; where?: Record<string, string> };

/** bench:keyword's 400 queries: 100 of each kind, the same every run. */
export function queriesFor(): Query[] {
  const rand = generator(7);
  const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
  const out: Query[] = [];
  for (let i = 0; i < 100; i++) {
    out.push({ kind: 'rare (rank 5,000–20,000)', q: word(between(5000, 20000)) });
    out.push({ kind: 'common (rank 1–50)', q: word(between(1, 50)) });
    out.push({ kind: 'multi-term (ranks 1–50, 50–500, 500–5,000)', q: `${word(between(1, 50))} ${word(between(50, 500))} ${word(between(500, 5000))}` });
    out.push({ kind: 'common + where (10% of records)', q: word(between(1, 50)), where: { team: `t${between(0, TEAMS)}` } });
  }
  return out;
}
