/**
 * The Zipfian corpus of the keyword and scale benchmarks: deterministic
 * records of 20–300 words (uniform) drawn from a 50,000-word vocabulary with
 * P(rank r) ∝ 1/r, the keyword queries over it (rare, common, multi-term,
 * filtered), and the reference they are checked against: the full BM25 sum
 * over every posting of the query terms, in one statement.
 */
import type pg from 'pg';

export const VOCAB = 50_000;
/** Values of the `team` field, for the filtered queries. */
export const TEAMS = 10;
/** Words of one topic's own vocabulary (records with topics). */
export const TOPIC_WORDS = 20;

/** mulberry32: a small deterministic generator, so every run and size draws the same corpus prefix. */
export function generator(seed: number): () => number {
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
export function zipfRank(u: number): number {
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

export const topicWord = (topic: number, j: number) => `t${topic}x${j}`;

/** Records per topic in bench:scale: the topics grow with N, so a neighbourhood stays the same size. */
export const PER_TOPIC = 100;
export const topicsOf = (n: number) => Math.max(10, Math.round(n / PER_TOPIC));

/** Topic queries: three words of one topic (the neighbourhoods the vectors have). */
export function topicQueries(count: number, topics: number): string[] {
  return Array.from({ length: count }, (_, q) => {
    const t = (q * 7919) % topics;
    return [3, 11, 17].map((k) => topicWord(t, (k * (q + 1)) % TOPIC_WORDS)).join(' ');
  });
}


export interface CorpusOptions {
  /**
   * Gives each record one of `topics` topics and makes `topicShare` of its words
   * that topic's own words: hash-provider vectors of records sharing words are
   * near, so the corpus gets neighbourhoods (bags of Zipf words alone have none,
   * every record nearly equidistant). Default none: the keyword benchmark's
   * corpus, whose draws this leaves unchanged.
   */
  topics?: number;
  /** Share of a record's words drawn from its topic. Default 0.15. */
  topicShare?: number;
}

// A type, not an interface: records are passed where Record<string, unknown> is asked.
export type CorpusRecord = {
  body: string;
  team: string;
};

/** The first `count` records, generated one at a time: memory does not grow with `count`. */
export function* zipfCorpus(count: number, opts: CorpusOptions = {}): Generator<CorpusRecord> {
  const rand = generator(20261201);
  const share = opts.topicShare ?? 0.15;
  for (let i = 0; i < count; i++) {
    const len = 20 + Math.floor(rand() * 281);
    if (!opts.topics) {
      const words = Array.from({ length: len }, () => word(zipfRank(rand())));
      yield { body: words.join(' '), team: `t${Math.floor(rand() * TEAMS)}` };
      continue;
    }
    const topic = i % opts.topics;
    const words = Array.from({ length: len }, () => (rand() < share ? topicWord(topic, Math.floor(rand() * TOPIC_WORDS)) : word(zipfRank(rand()))));
    yield { body: words.join(' '), team: `t${Math.floor(rand() * TEAMS)}` };
  }
}

export interface KeywordQuery {
  kind: string;
  q: string;
  where?: Record<string, string>;
}

export const KIND_RARE = 'rare (rank 5,000–20,000)';
export const KIND_COMMON = 'common (rank 1–50)';
export const KIND_MULTI = 'multi-term (ranks 1–50, 50–500, 500–5,000)';
export const KIND_FILTERED = 'common + where (10% of records)';

/** `perKind` queries of each kind, interleaved (rare, common, multi-term, then filtered unless left out). */
export function keywordQueries(perKind = 100, { filtered = true } = {}): KeywordQuery[] {
  const rand = generator(7);
  const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
  const out: KeywordQuery[] = [];
  for (let i = 0; i < perKind; i++) {
    out.push({ kind: KIND_RARE, q: word(between(5000, 20000)) });
    out.push({ kind: KIND_COMMON, q: word(between(1, 50)) });
    out.push({ kind: KIND_MULTI, q: `${word(between(1, 50))} ${word(between(50, 500))} ${word(between(500, 5000))}` });
    // Drawn even when left out, so the other kinds are the same queries either way.
    const common = word(between(1, 50));
    const where = { team: `t${between(0, TEAMS)}` };
    if (filtered) out.push({ kind: KIND_FILTERED, q: common, where });
  }
  return out;
}

export interface FullSumRequest {
  entity: string;
  /** The query terms present in the entity, with their BM25 IDF. */
  terms: readonly string[];
  idfs: readonly number[];
  k1: number;
  b: number;
  avgdl: number;
  limit: number;
  where?: Record<string, string> | undefined;
}

/** The reference: BM25 summed over every live posting of the terms in both layouts (kdb_postings_of decodes the blocks in SQL), best first, ties by id. */
export async function fullBm25Sum(db: pg.Pool | pg.ClientBase, r: FullSumRequest): Promise<{ id: string; score: number }[]> {
  const values: unknown[] = [r.terms, r.idfs, r.k1, r.b, r.avgdl, r.limit, r.entity];
  if (r.where) values.push(JSON.stringify(r.where));
  const text = `
  SELECT p.record_id AS id, sum(q.idf * (p.tf * ($3::float8 + 1)) / (p.tf + $3::float8 * (1 - $4::float8 + $4::float8 * p.doc_len / $5::float8))) AS score
    FROM unnest($1::text[], $2::float8[]) AS q(term, idf) JOIN kdb_postings_of($7, $1::text[]) p ON p.term = q.term
    ${r.where ? 'JOIN kdb_records r ON r.id = p.record_id AND r.data @> $8::jsonb' : ''}
   GROUP BY p.record_id ORDER BY score DESC, p.record_id LIMIT $6`;
  return (await db.query<{ id: string; score: string | number }>({ text, values })).rows.map((x) => ({ id: x.id, score: Number(x.score) }));
}

const close = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x));

/**
 * Whether `got` is the top `k` of the full sum `want` (asked with a margin
 * past k): scores equal within float rounding count as ties, ordered by id.
 */
export function sameTopK(got: readonly { id: string; score: number }[], want: readonly { id: string; score: number }[], k: number): boolean {
  const ref = [...want].sort((x, y) => (close(x.score, y.score) ? (x.id < y.id ? -1 : 1) : y.score - x.score)).slice(0, k);
  return got.length === ref.length && got.every((h, j) => h.id === ref[j]!.id && close(h.score, ref[j]!.score));
}
