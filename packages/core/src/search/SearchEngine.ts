import { LRUCache } from 'lru-cache';
import pgvector from 'pgvector';
import type pg from 'pg';
import { unstorableText } from '../content/unstorableText.js';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { ValidationError } from '../errors.js';
import { normalizeText } from '../content/normalizeText.js';
import { textHash } from '../content/textHash.js';
import { listEntities } from '../store/entityStore.js';
import type { Entity } from '../entities/entitySchema.js';
import { tokenize } from '../content/tokenize.js';
import { reuseFor } from '../util/reuseFor.js';
import { withTransaction } from '../store/withTransaction.js';
import { CacheWriteBehind } from '../cache/CacheWriteBehind.js';
import { keywordTopK, readStatsAndHeads } from './keywordTopK.js';
import { fuseRrf, type FusedHit, type RankedHit } from './rrf.js';
import { createHash } from 'node:crypto';
import { listVectorSegments, sealedUpTo, seqLiteral, type VectorSegment } from '../segments/vectorSegmentStore.js';

export const SEARCH_MODES = ['hybrid', 'vector', 'keyword'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
export type WhereValue = string | number | boolean | null;

export interface SearchParams {
  q: string;
  /** Entities to search; empty: all. */
  entities: string[];
  mode: SearchMode;
  limit: number;
  /** keyword: BM25 ≥; vector: cosine similarity ≥; hybrid: RRF score ≥. */
  threshold?: number | undefined;
  where?: Record<string, WhereValue> | undefined;
  explain?: boolean | undefined;
  /** Hits taken from each retriever before fusion. Default 4 × limit. */
  window?: number | undefined;
}

export interface SearchResult {
  entity: string;
  id: string;
  score: number;
  data: Record<string, unknown>;
  content: string;
  explain?: Omit<FusedHit, 'id' | 'entity' | 'score'>;
}

export interface SearchAnswer {
  results: SearchResult[];
  count: number;
  mode: SearchMode;
  took_ms: number;
  explain?: {
    timings_ms: Record<string, number>;
    bm25?: { k1: number; b: number; documents: number; avgDocLength: number; terms: { term: string; df: number; idf: number }[] };
    plans: { keyword?: string; vector?: string };
    window: number;
    rrfK: number;
    efSearch: number;
    /** Exact top-k pruning of the keyword retriever: rounds, postings read per group, documents seen, those whose other terms were looked up; proved false = the full sum ran. */
    keywordPruning?: { rounds: number; depth: number; candidates: number; lookedUp: number; proved: boolean };
    /** The sealed segments (one HNSW scan each) and the seq above which rows were scanned exactly. */
    vectorSegments?: { sealed: { lo: string; hi: string; rows: number }[]; hotAbove: string };
  };
}

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;
export const RRF_K = 60;
/** BM25 inverse document frequency of a term in `df` of `documents` documents: ln(1 + (N − n + 0.5)/(n + 0.5)). */
export const bm25Idf = (documents: number, df: number): number => Math.log(1 + (documents - df + 0.5) / (df + 0.5));
/**
 * HNSW candidate list of the vector retriever: 40, the hybrid window of a
 * 10-row search. With the segments' build settings (HNSW_BUILD) it gave
 * recall@10 0.972–0.977 on topic queries in `pnpm bench:hnsw` (BENCHMARKS.md).
 * A query asking more rows than this raises it for its own transaction (an
 * HNSW scan returns at most ef_search rows).
 */
export const DEFAULT_EF_SEARCH = 40;

const KEYWORD_SQL = (filtered: boolean) => `
  SELECT p.record_id AS id, p.entity,
         sum(q.idf * (p.tf * ($3::float8 + 1)) / (p.tf + $3::float8 * (1 - $4::float8 + $4::float8 * p.doc_len / $5::float8))) AS score
    FROM unnest($1::text[], $2::float8[]) AS q(term, idf)
    JOIN kdb_postings p ON p.entity = ANY($6::text[]) AND p.term = q.term
    ${filtered ? 'JOIN kdb_records r ON r.id = p.record_id AND r.data @> $8::jsonb' : ''}
   GROUP BY p.record_id, p.entity
   ORDER BY score DESC, p.record_id
   LIMIT $7`;

/**
 * The vector retriever over the segments (sql/000004_vector_segments.sql):
 * one HNSW scan per sealed segment, whose `vector_seq BETWEEN lo AND hi`
 * matches that segment's partial index, plus an exact scan of the hot rows
 * above the last sealed seq; the best `limit` of their union. Whatever
 * catalog version a search saw, every vector is in exactly one of its ranges.
 * Parameters: $1 the query vector, $2 the entities, $3 the `where` filter
 * (jsonb) when `filtered`. `limit` is written into the text, not passed: with
 * `LIMIT $n` PostgreSQL re-plans the prepared statement on every execution
 * (its generic plan's estimate, without the limit, is always the costlier),
 * ~0.3 ms each time here; with the number in the text it keeps one generic
 * plan (BENCHMARKS.md, measured by hand 2026-11-30).
 */
export function vectorSql(segments: readonly VectorSegment[], filtered: boolean, limit: number): string {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`vector limit must be a positive integer; got ${limit}`);
  const part = (range: string) => `(
    SELECT s.record_id AS id, s.entity, s.embedding <=> $1::vector AS distance
      FROM kdb_search s
     WHERE ${range} AND s.entity = ANY($2::text[]) AND s.embedding IS NOT NULL
       ${filtered ? 'AND EXISTS (SELECT 1 FROM kdb_records r WHERE r.id = s.record_id AND r.data @> $3::jsonb)' : ''}
     ORDER BY s.embedding <=> $1::vector
     LIMIT ${limit})`;
  const parts = segments.map((seg) => part(`s.vector_seq BETWEEN ${seqLiteral(seg.lo)} AND ${seqLiteral(seg.hi)}`));
  parts.push(part(`s.vector_seq > ${seqLiteral(sealedUpTo(segments))}`));
  return `SELECT id, entity, distance FROM (${parts.join('\n  UNION ALL ')}) u ORDER BY distance, id LIMIT ${limit}`;
}

export interface SearchEngineOptions {
  pool: pg.Pool;
  provider: EmbeddingProvider;
  /** `hnsw.ef_search` the pool's sessions use (see sessionSql). Default DEFAULT_EF_SEARCH. */
  efSearch?: number;
  /** Query embeddings kept in process. Default 1000. */
  queryCacheSize?: number;
  /** How long the segment catalog is reused, in ms (any version finds every vector). Default 1000. */
  segmentCacheMs?: number;
}

/**
 * Hybrid search: BM25 over the keyword index and cosine distance over the
 * HNSW index run concurrently on two pooled connections, fused with RRF;
 * the data of the top rows comes back in one query.
 */
export class SearchEngine {
  private readonly queryVectors: LRUCache<string, number[]>;
  /**
   * Entity definitions, reused for a second (a search costs one round trip
   * less); a name missing from the reused list is looked up again at once,
   * so a new entity is searchable right after it is created.
   */
  private readonly entityList: (fresh?: boolean) => Promise<Entity[]>;
  /** The segment catalog, reused for segmentCacheMs: any version finds every vector. */
  private readonly vectorSegments: () => Promise<VectorSegment[]>;
  /** New query vectors on their way to the embedding cache. */
  private readonly cacheWrites: CacheWriteBehind;
  constructor(private readonly opts: SearchEngineOptions) {
    this.queryVectors = new LRUCache({ max: opts.queryCacheSize ?? 1000 });
    this.cacheWrites = new CacheWriteBehind(opts.pool, opts.provider.modelKey);
    this.entityList = reuseFor(1000, () => listEntities(opts.pool));
    this.vectorSegments = reuseFor(opts.segmentCacheMs ?? 1000, () => listVectorSegments(opts.pool));
  }

  /**
   * Session settings for the pool that serves searches. Iterative index scans
   * stay off here: pgvector 0.8's relaxed_order scan costs ~50% more on every
   * query (measured here: p50 8 → 12 ms at 100k) and only filtered queries
   * need it, so those turn it on for their own transaction (vectorRows).
   */
  static sessionSql(efSearch = DEFAULT_EF_SEARCH): string[] {
    return [`SET hnsw.ef_search = ${Math.trunc(efSearch)}`];
  }

  /**
   * Runs a vector statement asking `rows` rows. With a `where` filter, inside
   * a transaction with `hnsw.iterative_scan = relaxed_order`, so the HNSW scan
   * goes on past ef_search candidates until `rows` rows pass the filter; when
   * `rows` exceeds the session's ef_search, inside a transaction that raises
   * it to `rows` (an HNSW scan returns at most ef_search rows).
   */
  private async vectorRows<R extends pg.QueryResultRow>(query: pg.QueryConfig, filtered: boolean, rows: number): Promise<R[]> {
    const ef = this.opts.efSearch ?? DEFAULT_EF_SEARCH;
    if (!filtered && rows <= ef) return (await this.opts.pool.query<R>(query)).rows;
    return withTransaction(this.opts.pool, async (client) => {
      if (filtered) await client.query('SET LOCAL hnsw.iterative_scan = relaxed_order');
      if (rows > ef) await client.query(`SET LOCAL hnsw.ef_search = ${Math.trunc(rows)}`);
      return (await client.query<R>(query)).rows;
    });
  }

  private async resolveEntities(params: SearchParams): Promise<Entity[]> {
    let all = await this.entityList();
    if (params.entities.some((name) => !all.some((e) => e.name === name))) all = await this.entityList(true);
    if (params.entities.length === 0) return all;
    return params.entities.map((name) => {
      const e = all.find((x) => x.name === name);
      if (!e) throw new ValidationError(`entity "${name}" does not exist; entities: ${all.map((x) => x.name).join(', ') || '(none)'}`, { entity: name });
      return e;
    });
  }

  /** The query's vector: in-process LRU, then the embedding cache table, then the provider. */
  private async queryVector(q: string): Promise<number[]> {
    const { provider, pool } = this.opts;
    const text = normalizeText(q);
    const key = textHash(text);
    const hit = this.queryVectors.get(key);
    if (hit) return hit;
    const { rows } = await pool.query<{ embedding: number[] }>({
      name: 'kdb_query_vector',
      text: 'SELECT embedding FROM kdb_embedding_cache WHERE model_key = $1 AND text_hash = $2',
      values: [provider.modelKey, key],
    });
    let vector = rows[0]?.embedding;
    if (!vector) {
      const embedded = (await provider.embed([text]))[0]!;
      vector = Array.from(embedded);
      // Stored for the other API processes and later runs, written behind the search.
      this.cacheWrites.add({ hash: key, vector: embedded });
    }
    this.queryVectors.set(key, vector);
    return vector;
  }

  /** Writes the query vectors still waiting for the embedding cache (before the pool closes). */
  flushQueryVectors(): Promise<void> {
    return this.cacheWrites.flush();
  }

  async search(params: SearchParams): Promise<SearchAnswer> {
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    const lap = (name: string, since: number) => (timings[name] = Math.round((performance.now() - since) * 1000) / 1000);
    if (params.q.trim() === '') throw new ValidationError('q must not be empty');
    const entities = await this.resolveEntities(params);
    const names = entities.map((e) => e.name);
    const where = params.where && Object.keys(params.where).length ? params.where : undefined;
    if (where) {
      for (const [key, value] of Object.entries(where)) {
        const missing = entities.filter((e) => !Object.hasOwn(e.fields, key)).map((e) => e.name);
        if (missing.length) {
          throw new ValidationError(`where: field "${key}" is not a field of ${missing.join(', ')}`, { field: key, entities: missing });
        }
        const why = typeof value === 'string' ? unstorableText(value) : undefined;
        if (why) throw new ValidationError(`where: the value of field "${key}" holds ${why}`, { field: key });
      }
    }
    const window = params.window ?? params.limit * 4;
    const k = params.mode === 'hybrid' ? window : params.limit;
    const useKeyword = params.mode !== 'vector';
    const useVector = params.mode !== 'keyword';

    // Keyword: BM25 statistics over the searched entities, then the scored postings.
    let keywordQueries: { text: string; values: unknown[] }[] = [];
    let keywordPruning: NonNullable<SearchAnswer['explain']>['keywordPruning'];
    let bm25: NonNullable<SearchAnswer['explain']>['bm25'];
    // In hybrid mode the vector statement, the longer one, is sent first: each statement sent blocks
    // the event loop in a system call that wakes PostgreSQL (~0.3 ms on this machine, BENCHMARKS.md),
    // so the keyword statement sent first would start the vector scan that much later. The keyword
    // side waits until the vector statement is on its way, or the vector side has failed.
    let releaseKeyword: () => void = () => undefined;
    const vectorSent = new Promise<void>((resolve) => (releaseKeyword = resolve));
    const keywordPromise = (async (): Promise<RankedHit[]> => {
      if (!useKeyword) return [];
      if (useVector) await vectorSent;
      const t = performance.now();
      const terms = [...new Set(tokenize(params.q))];
      if (terms.length === 0) return [];
      // Without a filter, the statistics come with the first round of the keyword top-k (one statement).
      const first = where ? undefined : await readStatsAndHeads(this.opts.pool, { entities: names, terms, k });
      const counts = first
        ? { n: first.documents, len: first.totalLength, df: first.df }
        : await this.opts.pool
            .query<{ n: string; len: string; terms: string[]; dfs: string[] }>({
              name: 'kdb_bm25_stats',
              text: `SELECT s.n, s.len, coalesce(d.terms, '{}') AS terms, coalesce(d.dfs, '{}') AS dfs
                       FROM (SELECT coalesce(sum(n_docs), 0) AS n, coalesce(sum(total_len), 0) AS len FROM kdb_bm25_stats WHERE entity = ANY($1::text[])) s
                      CROSS JOIN (SELECT array_agg(term) AS terms, array_agg(df) AS dfs
                                    FROM (SELECT term, sum(df) AS df FROM kdb_bm25_terms WHERE entity = ANY($1::text[]) AND term = ANY($2::text[]) GROUP BY term) t) d`,
              values: [names, terms],
            })
            .then(({ rows: [r] }) => ({ n: Number(r!.n), len: Number(r!.len), df: new Map(r!.terms.map((t, i) => [t, Number(r!.dfs[i])])) }));
      const n = counts.n;
      const avgdl = n ? counts.len / n : 0;
      const df = counts.df;
      const stats = terms.map((term) => {
        const d = df.get(term) ?? 0;
        return { term, df: d, idf: bm25Idf(n, d) };
      });
      bm25 = { k1: BM25_K1, b: BM25_B, documents: n, avgDocLength: avgdl, terms: stats };
      const present = stats.filter((s) => s.df > 0);
      if (present.length === 0 || avgdl === 0) return [];
      let hits: { id: string; entity: string; score: number }[] | null = null;
      if (!where) {
        // Exact top-k by pruning over impact-ordered postings; the full sum when it cannot prove it.
        const top = await keywordTopK(this.opts.pool, {
          entities: names,
          terms: present,
          k,
          k1: BM25_K1,
          b: BM25_B,
          avgdl,
          firstRound: first!.heads,
          firstRoundQuery: first!.query,
        });
        keywordPruning = { rounds: top.rounds, depth: top.depth, candidates: top.candidates, lookedUp: top.lookedUp, proved: top.hits !== null };
        keywordQueries = top.queries;
        hits = top.hits;
      }
      if (!hits) {
        const values: unknown[] = [present.map((s) => s.term), present.map((s) => s.idf), BM25_K1, BM25_B, avgdl, names, k];
        if (where) values.push(JSON.stringify(where));
        const full = { text: KEYWORD_SQL(!!where), values };
        keywordQueries = [full];
        const { rows } = await this.opts.pool.query<{ id: string; entity: string; score: number }>({
          name: where ? 'kdb_keyword_where' : 'kdb_keyword',
          ...full,
        });
        hits = rows.map((r) => ({ id: r.id, entity: r.entity, score: Number(r.score) }));
      }
      lap('keyword', t);
      return hits.map((r, i) => ({ id: r.id, entity: r.entity, rank: i + 1, score: r.score }));
    })();

    let vectorQuery: { text: string; values: unknown[] } | undefined;
    let usedSegments: VectorSegment[] = [];
    const vectorPromise = (async (): Promise<RankedHit[]> => {
      if (!useVector) return [];
      let t = performance.now();
      let pending: Promise<{ id: string; entity: string; distance: number }[]>;
      try {
        const [vector, segments] = await Promise.all([this.queryVector(params.q), this.vectorSegments()]);
        lap('embed_query', t);
        t = performance.now();
        const values: unknown[] = [pgvector.toSql(vector), names];
        if (where) values.push(JSON.stringify(where));
        vectorQuery = { text: vectorSql(segments, !!where, k), values };
        usedSegments = segments;
        // One prepared statement per segment layout and row count (the text changes with either).
        const name = `kdb_vector_${createHash('sha1').update(vectorQuery.text).digest('hex').slice(0, 12)}`;
        pending = this.vectorRows<{ id: string; entity: string; distance: number }>({ name, ...vectorQuery }, !!where, k);
      } finally {
        releaseKeyword();
      }
      const rows = await pending;
      lap('vector', t);
      // relaxed_order iterative scans (filtered queries) may return rows slightly out of order.
      rows.sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : 1));
      return rows.map((r, i) => ({ id: r.id, entity: r.entity, rank: i + 1, score: 1 - Number(r.distance) }));
    })();

    const [keyword, vector] = await Promise.all([keywordPromise, vectorPromise]);
    let t = performance.now();
    let fused: FusedHit[];
    if (params.mode === 'hybrid') fused = fuseRrf(keyword, vector, RRF_K);
    else {
      const hits = params.mode === 'keyword' ? keyword : vector;
      fused = hits.map((h) => ({ id: h.id, entity: h.entity, score: h.score, [params.mode]: { rank: h.rank, score: h.score, rrf: 0 } }));
    }
    if (params.threshold !== undefined) fused = fused.filter((f) => f.score >= params.threshold!);
    fused = fused.slice(0, params.limit);
    lap('fusion', t);

    t = performance.now();
    const ids = fused.map((f) => f.id);
    const { rows } = ids.length
      ? await this.opts.pool.query<{ id: string; data: Record<string, unknown>; content: string }>({
          name: 'kdb_search_fetch',
          text: 'SELECT r.id, r.data, s.content FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.id = ANY($1::uuid[])',
          values: [ids],
        })
      : { rows: [] };
    lap('fetch', t);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const results: SearchResult[] = fused
      .filter((f) => byId.has(f.id))
      .map((f) => {
        const row = byId.get(f.id)!;
        const out: SearchResult = { entity: f.entity, id: f.id, score: f.score, data: row.data, content: row.content };
        if (params.explain) out.explain = { ...(f.keyword ? { keyword: f.keyword } : {}), ...(f.vector ? { vector: f.vector } : {}) };
        return out;
      });
    const answer: SearchAnswer = { results, count: results.length, mode: params.mode, took_ms: Math.round((performance.now() - t0) * 1000) / 1000 };
    if (params.explain) {
      const plan = async (q?: { text: string; values: unknown[] }, vector = false) =>
        q
          ? (await this.vectorRows<{ 'QUERY PLAN': string }>({ text: `EXPLAIN (ANALYZE, BUFFERS) ${q.text}`, values: q.values }, vector && !!where, vector ? k : 0))
              .map((r) => r['QUERY PLAN'])
              .join('\n')
          : undefined;
      const plans = async (qs: { text: string; values: unknown[] }[]) =>
        qs.length ? (await Promise.all(qs.map((q) => plan(q)))).join('\n-- next statement --\n') : undefined;
      const [kp, vp] = await Promise.all([plans(keywordQueries), plan(vectorQuery, true)]);
      const ef = await this.opts.pool.query<{ ef: string }>("SELECT current_setting('hnsw.ef_search') AS ef").then((r) => Number(r.rows[0]?.ef ?? 0), () => 0);
      const efUsed = useVector ? Math.max(ef, k) : ef;
      answer.explain = {
        timings_ms: timings,
        ...(bm25 ? { bm25 } : {}),
        ...(keywordPruning ? { keywordPruning } : {}),
        plans: { ...(kp ? { keyword: kp } : {}), ...(vp ? { vector: vp } : {}) },
        window,
        rrfK: RRF_K,
        efSearch: efUsed,
        ...(useVector ? { vectorSegments: { sealed: usedSegments.map((x) => ({ lo: x.lo, hi: x.hi, rows: x.rows })), hotAbove: sealedUpTo(usedSegments) } } : {}),
      };
    }
    return answer;
  }
}
