import type pg from 'pg';
import { tokenize } from '../content/tokenize.js';
import { BM25_B, BM25_K1, bm25Idf } from './bm25Statistics.js';
import { keywordTopK, readStatsAndHeads } from './keywordTopK.js';
import type { RankedHit } from './rrf.js';
import type { Timings } from './Timings.js';

/** What explain shows of the BM25 statistics a search used. */
export interface Bm25Explain {
  k1: number;
  b: number;
  documents: number;
  avgDocLength: number;
  terms: { term: string; df: number; idf: number }[];
}

/**
 * How the keyword top-k was found (keywordTopK): rounds, postings per group
 * in the last round, documents seen, postings read against what the full sum
 * would read (the query terms' df summed), impact groups read, terms read to
 * their end, candidates looked up and checked against `where`. proved is
 * always true: the top k is exact without a full sum.
 */
export interface KeywordPruning {
  rounds: number;
  depth: number;
  candidates: number;
  postingsRead: number;
  postingsTotal: number;
  groups: number;
  termsReadWhole: number;
  lookedUp: number;
  filterChecked: number;
  proved: true;
}

export interface KeywordRetrieval {
  hits: RankedHit[];
  /** The statements that found the hits (for explain's plans); none when no query term is indexed. */
  queries: { text: string; values: unknown[] }[];
  /** Absent when the query has no terms. */
  bm25?: Bm25Explain;
  /** Absent when no query term is indexed. */
  pruning?: KeywordPruning;
}

export interface KeywordRequest {
  /** The query text. Required. */
  q: string;
  /** Entities searched, as one collection. Required. */
  entities: readonly string[];
  /** Hits wanted. Required. */
  k: number;
  /** The `where` filter (non-empty, checked against the entities), or undefined. */
  where: Readonly<Record<string, unknown>> | undefined;
  /** Gets the `keyword` step when hits were looked up. */
  timings: Timings;
}

/**
 * BM25 over the keyword index: the statistics over the searched entities and
 * the first round of the exact top-k in one statement, then keywordTopK's
 * further rounds, with or without a `where` filter.
 */
export class KeywordRetriever {
  constructor(private readonly pool: pg.Pool) {}

  async retrieve({ q, entities, k, where, timings }: KeywordRequest): Promise<KeywordRetrieval> {
    const t = performance.now();
    const terms = [...new Set(tokenize(q))];
    if (terms.length === 0) return { hits: [], queries: [] };
    // The statistics come with the first round of the keyword top-k, in one
    // statement (docs/decisions/bm25-statistics-in-first-statement.md).
    const first = await readStatsAndHeads(this.pool, { entities, terms, k });
    const n = first.documents;
    const avgdl = n ? first.totalLength / n : 0;
    const stats = terms.map((term) => {
      const d = first.df.get(term) ?? 0;
      return { term, df: d, idf: bm25Idf(n, d) };
    });
    const bm25: Bm25Explain = { k1: BM25_K1, b: BM25_B, documents: n, avgDocLength: avgdl, terms: stats };
    const present = stats.filter((s) => s.df > 0);
    if (present.length === 0 || avgdl === 0) return { hits: [], queries: [], bm25 };
    const top = await keywordTopK(this.pool, {
      entities,
      terms: present,
      k,
      k1: BM25_K1,
      b: BM25_B,
      avgdl,
      firstRound: first.heads,
      firstRoundQuery: first.query,
      where,
    });
    const pruning: KeywordPruning = {
      rounds: top.rounds,
      depth: top.depth,
      candidates: top.candidates,
      postingsRead: top.postingsRead,
      postingsTotal: present.reduce((s, x) => s + x.df, 0),
      groups: top.groups,
      termsReadWhole: top.termsReadWhole,
      lookedUp: top.lookedUp,
      filterChecked: top.filterChecked,
      proved: true,
    };
    timings.lap('keyword', t);
    return { hits: top.hits.map((r, i) => ({ id: r.id, entity: r.entity, rank: i + 1, score: r.score })), queries: top.queries, bm25, pruning };
  }
}
