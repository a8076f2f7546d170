import type pg from 'pg';
import { tokenize } from '../content/tokenize.js';
import { BM25_B, BM25_K1, bm25Idf, readBm25Statistics } from './bm25Statistics.js';
import { keywordTopK, readStatsAndHeads, type KeywordHit } from './keywordTopK.js';
import type { RankedHit } from './rrf.js';
import type { Timings } from './Timings.js';

/** The full BM25 sum over every posting of the query terms: the fallback of the keyword top-k, and the filtered search. */
const FULL_SUM_SQL = (filtered: boolean) => `
  SELECT p.record_id AS id, p.entity,
         sum(q.idf * (p.tf * ($3::float8 + 1)) / (p.tf + $3::float8 * (1 - $4::float8 + $4::float8 * p.doc_len / $5::float8))) AS score
    FROM unnest($1::text[], $2::float8[]) AS q(term, idf)
    JOIN kdb_postings p ON p.entity = ANY($6::text[]) AND p.term = q.term
    ${filtered ? 'JOIN kdb_records r ON r.id = p.record_id AND r.data @> $8::jsonb' : ''}
   GROUP BY p.record_id, p.entity
   ORDER BY score DESC, p.record_id
   LIMIT $7`;

/** What explain shows of the BM25 statistics a search used. */
export interface Bm25Explain {
  k1: number;
  b: number;
  documents: number;
  avgDocLength: number;
  terms: { term: string; df: number; idf: number }[];
}

/** Exact top-k pruning of the keyword retriever: rounds, postings read per group, documents seen, those whose other terms were looked up; proved false = the full sum ran. */
export interface KeywordPruning {
  rounds: number;
  depth: number;
  candidates: number;
  lookedUp: number;
  proved: boolean;
}

export interface KeywordRetrieval {
  hits: RankedHit[];
  /** The statements that found the hits (for explain's plans); none when no query term is indexed. */
  queries: { text: string; values: unknown[] }[];
  /** Absent when the query has no terms. */
  bm25?: Bm25Explain;
  /** Absent for filtered searches, which always run the full sum. */
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
 * BM25 over the keyword index: the statistics over the searched entities,
 * then the exact top-k by pruning (keywordTopK) or, with a filter or when
 * pruning cannot prove the top k, the full sum.
 */
export class KeywordRetriever {
  constructor(private readonly pool: pg.Pool) {}

  async retrieve({ q, entities, k, where, timings }: KeywordRequest): Promise<KeywordRetrieval> {
    const t = performance.now();
    const terms = [...new Set(tokenize(q))];
    if (terms.length === 0) return { hits: [], queries: [] };
    // Without a filter, the statistics come with the first round of the keyword top-k, in one
    // statement (docs/decisions/bm25-statistics-in-first-statement.md).
    const first = where ? undefined : await readStatsAndHeads(this.pool, { entities, terms, k });
    const counts = first ?? (await readBm25Statistics(this.pool, entities, terms));
    const n = counts.documents;
    const avgdl = n ? counts.totalLength / n : 0;
    const stats = terms.map((term) => {
      const d = counts.df.get(term) ?? 0;
      return { term, df: d, idf: bm25Idf(n, d) };
    });
    const bm25: Bm25Explain = { k1: BM25_K1, b: BM25_B, documents: n, avgDocLength: avgdl, terms: stats };
    const present = stats.filter((s) => s.df > 0);
    if (present.length === 0 || avgdl === 0) return { hits: [], queries: [], bm25 };
    let queries: KeywordRetrieval['queries'] = [];
    let pruning: KeywordPruning | undefined;
    let hits: KeywordHit[] | null = null;
    if (first) {
      // Exact top-k by pruning over impact-ordered postings; the full sum when it cannot prove it.
      const top = await keywordTopK(this.pool, {
        entities,
        terms: present,
        k,
        k1: BM25_K1,
        b: BM25_B,
        avgdl,
        firstRound: first.heads,
        firstRoundQuery: first.query,
      });
      pruning = { rounds: top.rounds, depth: top.depth, candidates: top.candidates, lookedUp: top.lookedUp, proved: top.hits !== null };
      queries = top.queries;
      hits = top.hits;
    }
    if (!hits) {
      const values: unknown[] = [present.map((s) => s.term), present.map((s) => s.idf), BM25_K1, BM25_B, avgdl, entities, k];
      if (where) values.push(JSON.stringify(where));
      const full = { text: FULL_SUM_SQL(!!where), values };
      queries = [full];
      const { rows } = await this.pool.query<{ id: string; entity: string; score: number }>({
        name: where ? 'kdb_keyword_where' : 'kdb_keyword',
        ...full,
      });
      hits = rows.map((r) => ({ id: r.id, entity: r.entity, score: Number(r.score) }));
    }
    timings.lap('keyword', t);
    return { hits: hits.map((r, i) => ({ id: r.id, entity: r.entity, rank: i + 1, score: r.score })), queries, bm25, ...(pruning ? { pruning } : {}) };
  }
}
