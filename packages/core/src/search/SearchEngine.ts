import type pg from 'pg';
import { unstorableText } from '../content/unstorableText.js';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import { ConfigError, ValidationError } from '../errors.js';
import { SpaceProviders } from '../spaces/SpaceProviders.js';
import { listEntities } from '../store/entityStore.js';
import type { Entity } from '@kameleondb/schemas';
import { reuseFor } from '../util/reuseFor.js';
import type { FusedHit, RankedHit } from './FusedHit.js';
import { checkedFusion, DEFAULT_FUSION, fuse, type Fusion } from './Fusion.js';
import { KeywordRetriever, type KeywordRetrieval } from './KeywordRetriever.js';
import { VectorRetriever, vectorSessionSql } from './VectorRetriever.js';
import { QueryVectorCache } from './QueryVectorCache.js';
import { explainSearch, resultExplain, type ResultExplain, type SearchExplain } from './explainSearch.js';
import { Latch } from './Latch.js';
import { ReplicaRouter, type Route, type SearchServer } from './ReplicaRouter.js';
import { isConnectionLoss } from '../store/isConnectionLoss.js';
import { msSince, Timings } from './Timings.js';
import { resultCacheKey } from './resultCacheKey.js';
import type { ResultCache } from './ResultCache.js';
import type { SearchObservation } from './SearchObservation.js';

export const SEARCH_MODES = ['hybrid', 'vector', 'keyword'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
export type WhereValue = string | number | boolean | null;

export interface SearchParams {
  /** The query text. Required; not blank. */
  q: string;
  /** Entities to search; empty: all. */
  entities: string[];
  /** Retrievers used: both fused (hybrid), or one alone. Required. */
  mode: SearchMode;
  /** Results wanted at most. Required. */
  limit: number;
  /** keyword: BM25 ≥; vector: cosine similarity ≥; hybrid: fused (RRF or linear) score ≥. Default none. */
  threshold?: number | undefined;
  /** Field values every result's data holds (jsonb containment). Default none. */
  where?: Record<string, WhereValue> | undefined;
  /** Adds each result's ranks and the answer's statistics, timings and plans. Default false. */
  explain?: boolean | undefined;
  /** Hits taken from each retriever before fusion. Default 4 × limit. */
  window?: number | undefined;
  /** How hybrid mode fuses the two rankings; only with mode hybrid. Default RRF with k = RRF_K. */
  fusion?: Fusion | undefined;
  /** Read-your-writes: a server that has replayed this WAL position (a write's KDB-Commit-LSN) answers. Default none. */
  after?: string | undefined;
  /** `primary` keeps the search off the replicas. Default `any`. */
  consistency?: 'any' | 'primary' | undefined;
  /** false: bypass the result cache (neither read nor kept). Searches with explain always bypass it. Default true. */
  cache?: boolean | undefined;
}

export interface SearchResult {
  entity: string;
  id: string;
  score: number;
  data: Record<string, unknown>;
  content: string;
  explain?: ResultExplain;
}

export interface SearchAnswer {
  results: SearchResult[];
  /** The model key of the embedding space that answered (the active one). */
  space: string;
  count: number;
  mode: SearchMode;
  took_ms: number;
  /** The server that ran the search statements: `primary` or a replica's host:port (for a cached answer, the one whose versions it was checked against). */
  servedBy: string;
  /** Served from the result cache (an answer kept since no write changed its entities). */
  cached: boolean;
  explain?: SearchExplain & { server: ServedBy };
}

/** What explain shows of the server that answered. */
export interface ServedBy {
  servedBy: string;
  role: 'primary' | 'replica';
  reason: Route['reason'];
  waitedMs: number;
  after: string | null;
}

export interface SearchEngineOptions {
  /** The search pool; its sessions run SearchEngine.sessionSql(efSearch). Required. */
  pool: pg.Pool;
  /**
   * The spaces and their providers (the active space's provider embeds
   * query texts new to both caches). Default: spaces served by `provider`
   * alone, which seeds the first space on an empty database.
   */
  spaces?: SpaceProviders;
  /** The provider of the default `spaces`. Required without `spaces`. */
  provider?: EmbeddingProvider;
  /** `hnsw.ef_search`: a number the pool's sessions use (see sessionSql), or `auto` (efSearchFor the largest segment searched). Default `auto`. */
  efSearch?: number | 'auto';
  /** Query embeddings kept in process. Default 1000. */
  queryCacheSize?: number;
  /** How long the segment catalog is reused, in ms (any version finds every vector). Default 1000. */
  segmentCacheMs?: number;
  /** Replaces EXACT_SCAN_ROWS in scansExactly (a segment's share rule stays); 0: every segment through its graph. Default EXACT_SCAN_ROWS. */
  exactScanRows?: number;
  /**
   * Picks the server of each search's statements (retrievers, statistics,
   * row fetch); entities, spaces and query vectors stay on `pool`.
   * Default: `pool` alone.
   */
  router?: ReplicaRouter;
  /** Fused answers kept in process, never stale (see ResultCache). Default none: every search runs. */
  resultCache?: ResultCache<SearchAnswer> | undefined;
  /** Told of every search that answered (latency metrics). Default none. */
  observe?: ((o: SearchObservation) => void) | undefined;
}

/**
 * Hybrid search: BM25 over the keyword index and cosine distance over the
 * HNSW index run concurrently on two pooled connections, fused with RRF
 * (or linearly, see Fusion.ts);
 * the data of the top rows comes back in one query after fusion
 * (docs/decisions/row-fetch-after-fusion.md).
 */
/** A checked search request, ready to run on a server. */
interface Prepared {
  params: SearchParams;
  entities: string[];
  where: Record<string, WhereValue> | undefined;
  fusion: Fusion;
  window: number;
  k: number;
  narrowed: boolean;
  t0: number;
  timings: Timings;
}

export class SearchEngine {
  /**
   * Entity definitions, reused for a second (a search costs one round trip
   * less); a name missing from the reused list is looked up again at once,
   * so a new entity is searchable right after it is created.
   */
  private readonly entityList: (fresh?: boolean) => Promise<Entity[]>;
  /** Query vectors per space (model key): a query's vector differs per model. */
  private readonly queryVectors = new Map<string, QueryVectorCache>();
  /** The retrievers of each server (each reads its own segment catalog). */
  private readonly retrievers = new Map<SearchServer, { keyword: KeywordRetriever; vector: VectorRetriever }>();
  readonly router: ReplicaRouter;
  readonly spaces: SpaceProviders;

  constructor(private readonly opts: SearchEngineOptions) {
    this.entityList = reuseFor(1000, () => listEntities(opts.pool));
    if (!opts.spaces && !opts.provider) throw new ConfigError('SearchEngine needs `spaces` or a `provider`');
    this.spaces = opts.spaces ?? SpaceProviders.single(opts.pool, opts.provider!);
    this.router = opts.router ?? new ReplicaRouter({ primary: opts.pool });
  }

  private retrieversOf(server: SearchServer): { keyword: KeywordRetriever; vector: VectorRetriever } {
    let r = this.retrievers.get(server);
    if (!r) {
      r = {
        keyword: new KeywordRetriever(server.pool),
        vector: new VectorRetriever({ pool: server.pool, efSearch: this.opts.efSearch, segmentCacheMs: this.opts.segmentCacheMs, exactScanRows: this.opts.exactScanRows }),
      };
      this.retrievers.set(server, r);
    }
    return r;
  }

  private queryVectorsOf(provider: EmbeddingProvider): QueryVectorCache {
    let c = this.queryVectors.get(provider.modelKey);
    if (!c) this.queryVectors.set(provider.modelKey, (c = new QueryVectorCache({ pool: this.opts.pool, provider, size: this.opts.queryCacheSize })));
    return c;
  }

  /** Session settings for the pool that serves searches (see vectorSessionSql). */
  static sessionSql(efSearch?: number | 'auto'): string[] {
    return vectorSessionSql(efSearch === 'auto' ? undefined : efSearch);
  }

  /** Writes the query vectors still on their way to the embedding cache and stops the router's checks; call before the pools end. */
  async close(): Promise<void> {
    await Promise.all([...this.queryVectors.values()].map((c) => c.close()));
    await this.router.close();
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

  /** The `where` filter when it has fields, after checking each is a field of every searched entity and storable. */
  private static checkedWhere(entities: readonly Entity[], params: SearchParams): Record<string, WhereValue> | undefined {
    const where = params.where && Object.keys(params.where).length ? params.where : undefined;
    for (const [key, value] of Object.entries(where ?? {})) {
      const missing = entities.filter((e) => !Object.hasOwn(e.fields, key)).map((e) => e.name);
      if (missing.length) {
        throw new ValidationError(`where: field "${key}" is not a field of ${missing.join(', ')}`, { field: key, entities: missing });
      }
      const why = typeof value === 'string' ? unstorableText(value) : undefined;
      if (why) throw new ValidationError(`where: the value of field "${key}" holds ${why}`, { field: key });
    }
    return where;
  }

  async search(params: SearchParams): Promise<SearchAnswer> {
    const t0 = performance.now();
    const timings = new Timings();
    if (params.q.trim() === '') throw new ValidationError('q must not be empty');
    const entities = await this.resolveEntities(params);
    const names = entities.map((e) => e.name);
    const where = SearchEngine.checkedWhere(entities, params);
    if (params.fusion && params.mode !== 'hybrid') throw new ValidationError(`fusion applies only to mode hybrid, not mode ${params.mode}`, { mode: params.mode });
    const fusion = checkedFusion(params.fusion ?? DEFAULT_FUSION);
    const window = params.window ?? params.limit * 4;
    const k = params.mode === 'hybrid' ? window : params.limit;
    // Narrowed: fewer entities than all filter each HNSW scan, so it runs iteratively, as a `where` does.
    const prepared: Prepared = { params, entities: names, where, fusion, window, k, narrowed: names.length < (await this.entityList()).length, t0, timings };
    timings.lap('entities', t0);
    const tRoute = performance.now();
    const route = await this.router.pick({ after: params.after, consistency: params.consistency });
    timings.lap('route', tRoute);
    let answer: SearchAnswer;
    try {
      answer = await this.answerOn(route, prepared, entities);
    } catch (err) {
      // A replica that went away (or cancelled the statement for replay) mid-search: the primary answers it.
      if (route.server.role !== 'replica' || !(isConnectionLoss(err) || (err as { code?: unknown }).code === '40001')) throw err;
      if (isConnectionLoss(err)) this.router.markFailed(route.server, err as Error);
      answer = await this.answerOn({ ...route, server: this.router.primary, reason: 'replica failed during the search' }, prepared, entities);
    }
    this.opts.observe?.({ mode: params.mode, ms: answer.took_ms, cached: answer.cached, keywordMs: answer.cached ? undefined : timings.ms.keyword, vectorMs: answer.cached ? undefined : timings.ms.vector, steps: timings.ms });
    return answer;
  }

  /** The answer kept in the result cache if still valid on the routed server, else the search run there. */
  private async answerOn(route: Route, prepared: Prepared, entities: readonly Entity[]): Promise<SearchAnswer> {
    const { params } = prepared;
    const cache = params.cache === false || params.explain ? undefined : this.opts.resultCache;
    if (!cache) return this.searchOn(route, prepared);
    // The space is part of the key: a process may serve the old space for a moment after a switch.
    // The versions are read on the server that answers: a replica's answer is valid for what it has replayed.
    const { space } = await this.spaces.active();
    const { after: _after, consistency: _consistency, ...keyed } = params;
    const key = resultCacheKey(keyed, entities, space.modelKey);
    const r = await cache.through(key, prepared.entities, () => this.searchOn(route, prepared), route.server.pool);
    return r.cached ? { ...r.answer, cached: true, servedBy: route.server.name, took_ms: msSince(prepared.t0) } : r.answer;
  }

  private async searchOn(route: Route, p: Prepared): Promise<SearchAnswer> {
    const { params, where, fusion, window, k, narrowed, t0, timings } = p;
    const names = p.entities;
    const { keyword: keywordRetriever, vector: vectorRetriever } = this.retrieversOf(route.server);
    const useKeyword = params.mode !== 'vector';
    const useVector = params.mode !== 'keyword';

    // In hybrid mode the vector statement, the longer one, is sent first: sending a statement
    // blocks the event loop, so the keyword statement sent first would start the vector scan
    // later (docs/decisions/vector-statement-first.md). The keyword side waits until the vector
    // statement is on its way, or the vector side has failed.
    const vectorSent = new Latch();
    const request = { q: params.q, entities: names, k, where, timings };
    // The keyword side needs no space; the answer names the active one whatever the mode.
    let t = performance.now();
    const { space, provider } = await this.spaces.active();
    timings.lap('space', t);
    t = performance.now();
    const keywordPromise = (async (): Promise<KeywordRetrieval | undefined> => {
      if (!useKeyword) return undefined;
      if (useVector) await vectorSent.wait();
      return keywordRetriever.retrieve(request);
    })();
    const vectorPromise = useVector
      ? vectorRetriever.retrieve({ ...request, narrowed, withRows: params.mode === 'vector', sent: vectorSent, space, queryVectors: this.queryVectorsOf(provider) })
      : Promise.resolve(undefined);
    const [keyword, vector] = await Promise.all([keywordPromise, vectorPromise]);
    // Both retrievers as the search waited for them (the longer one, plus the keyword side's wait for the vector statement).
    timings.lap('retrievers', t);

    t = performance.now();
    const fused = SearchEngine.ranked(params, fusion, keyword?.hits ?? [], vector?.hits ?? []);
    timings.lap('fusion', t);

    t = performance.now();
    // Vector mode's statement brought the rows along (VectorRetriever withRows): nothing left to fetch.
    const results = await this.fetchRows(route.server.pool, fused, !!params.explain, vector?.rows);
    timings.lap('fetch', t);
    const servedBy = route.server.name;
    const answer: SearchAnswer = { results, space: space.modelKey, count: results.length, mode: params.mode, took_ms: msSince(t0), servedBy, cached: false };
    if (params.explain) {
      const server: ServedBy = { servedBy, role: route.server.role, reason: route.reason, waitedMs: Math.round(route.waitedMs * 100) / 100, after: route.after ?? null };
      answer.explain = { server, ...(await explainSearch({ pool: route.server.pool, vectorRetriever, keyword, vector, filtered: !!where || narrowed, k, window, fusion: params.mode === 'hybrid' ? fusion : undefined, timings })) };
    }
    return answer;
  }

  /** The mode's ranking (fused in hybrid mode), cut at the threshold and the limit. */
  private static ranked(params: SearchParams, fusion: Fusion, keyword: readonly RankedHit[], vector: readonly RankedHit[]): FusedHit[] {
    let fused: FusedHit[];
    if (params.mode === 'hybrid') fused = fuse(fusion, keyword, vector);
    else {
      const hits = params.mode === 'keyword' ? keyword : vector;
      fused = hits.map((h) => ({ id: h.id, entity: h.entity, score: h.score, [params.mode]: { rank: h.rank, score: h.score, rrf: 0 } }));
    }
    if (params.threshold !== undefined) fused = fused.filter((f) => f.score >= params.threshold!);
    return fused.slice(0, params.limit);
  }

  /** The data and content of the fused hits, in their order; a row deleted since it was found is left out. */
  private async fetchRows(pool: pg.Pool, fused: readonly FusedHit[], explain: boolean, fetched?: readonly { id: string; data: Record<string, unknown>; content: string }[]): Promise<SearchResult[]> {
    const ids = fused.map((f) => f.id);
    const { rows } = fetched
      ? { rows: fetched }
      : ids.length
      ? await pool.query<{ id: string; data: Record<string, unknown>; content: string }>({
          name: 'kdb_search_fetch',
          text: 'SELECT r.id, r.data, s.content FROM kdb_records r JOIN kdb_search s ON s.record_id = r.id WHERE r.id = ANY($1::uuid[])',
          values: [ids],
        })
      : { rows: [] };
    const byId = new Map(rows.map((r) => [r.id, r]));
    return fused
      .filter((f) => byId.has(f.id))
      .map((f) => {
        const row = byId.get(f.id)!;
        const out: SearchResult = { entity: f.entity, id: f.id, score: f.score, data: row.data, content: row.content };
        if (explain) out.explain = resultExplain(f);
        return out;
      });
  }
}
