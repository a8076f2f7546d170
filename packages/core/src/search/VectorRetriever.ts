import { createHash } from 'node:crypto';
import pgvector from 'pgvector';
import type pg from 'pg';
import { isConnectionLoss } from '../store/isConnectionLoss.js';
import { reuseFor } from '../util/reuseFor.js';
import { listVectorSegments, sealedUpTo, segmentsFor, seqLiteral, type VectorSegment } from '../segments/vectorSegmentStore.js';
import type { VectorSeq } from '../store/searchRowStore.js';
import { scansExactly } from './segmentScan.js';
import { vectorTable, type EmbeddingSpace } from '../store/embeddingSpaceStore.js';
import type { QueryVectorCache } from './QueryVectorCache.js';
import type { RankedHit } from './rrf.js';
import type { Latch } from './Latch.js';
import type { Timings } from './Timings.js';
import { DEFAULT_EF_SEARCH, efSearchFor } from './efSearchFor.js';

/**
 * Session settings for the pool that serves searches. Iterative index scans
 * stay off here: they slow every query and only filtered queries need them,
 * so those turn them on for their own transaction
 * (docs/decisions/iterative-scan-filtered-only.md).
 */
export function vectorSessionSql(efSearch = DEFAULT_EF_SEARCH): string[] {
  return [`SET hnsw.ef_search = ${Math.trunc(efSearch)}`];
}

/**
 * The vector retriever's statement over the segments of space `spaceId`'s
 * vector table (sql/000004_vector_segments.sql, 000010):
 * one HNSW scan per sealed segment, whose `vector_seq BETWEEN lo AND hi`
 * matches that segment's partial index, plus an exact scan of the hot rows
 * above the last sealed seq (`hotAbove`: of the whole catalog, where
 * `segments` are those segmentsFor the searched entities); the best `limit`
 * of their union. Whatever
 * catalog version a search saw, every vector is in exactly one of its ranges.
 * Parameters: $1 the query vector, $2 the entities, $3 the `where` filter
 * (jsonb) when `filtered`. `limit` is written into the text, not passed: with
 * `LIMIT $n` PostgreSQL re-plans the prepared statement on every execution
 * (its generic plan's estimate, without the limit, is always the costlier);
 * with the number in the text it keeps one generic plan
 * (docs/decisions/vector-limit-in-text.md). With `withRows`, each hit comes
 * with its record's data and content (vector mode, whose hits are the
 * answer: one round trip instead of a fetch after; docs/decisions/vector-rows-in-statement.md).
 */
export function vectorSql(segments: readonly VectorSegment[], filtered: boolean, limit: number, spaceId: number, withRows = false, layout: SegmentLayout = {}): string {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`vector limit must be a positive integer; got ${limit}`);
  const hotAbove = layout.hotAbove ?? sealedUpTo(segments);
  const part = (range: string, entity: string, order: string) => `(
    SELECT s.record_id AS id, s.entity, s.embedding <=> $1::vector AS distance
      FROM ${vectorTable(spaceId)} s
     WHERE ${range} AND ${entity} AND s.embedding IS NOT NULL
       ${filtered ? 'AND EXISTS (SELECT 1 FROM kdb_records r WHERE r.id = s.record_id AND r.data @> $3::jsonb)' : ''}
     ORDER BY ${order}
     LIMIT ${limit})`;
  // Which path reads a segment is the retriever's choice (scansExactly, from the catalog's rows per
  // entity), not the planner's, whose statistics may predate an entity. An exact read orders by
  // `distance + 0`, which no HNSW index yields (whatever segment's predicate its range implies: a
  // merged one's, with a catalog read before the merge), so its rows come by (entity,
  // vector_seq) and a sort. A graph read keeps the entity test out of index conditions (IS TRUE),
  // so no plan reads the segment by entity, and the statement keeps one generic plan whatever the
  // entities (a custom plan per search costs its planning each time).
  const byEntity = 's.entity = ANY($2::text[])';
  const notByEntity = '(s.entity = ANY($2::text[])) IS TRUE';
  const byGraph = 's.embedding <=> $1::vector';
  const bySort = '(s.embedding <=> $1::vector) + 0';
  const parts = segments.map((seg) => {
    const range = `s.vector_seq BETWEEN ${seqLiteral(seg.lo)} AND ${seqLiteral(seg.hi)}`;
    return layout.exact?.has(seg.indexName) ? part(range, byEntity, bySort) : part(range, notByEntity, byGraph);
  });
  parts.push(part(`s.vector_seq > ${seqLiteral(hotAbove)}`, byEntity, byGraph));
  const top = `SELECT id, entity, distance FROM (${parts.join('\n  UNION ALL ')}) u ORDER BY distance, id LIMIT ${limit}`;
  if (!withRows) return top;
  // Inner joins, as the fetch after fusion: a row deleted since its vector was written is left out.
  return `SELECT t.id, t.entity, t.distance, rr.data, ss.content FROM (${top}) t
    JOIN kdb_records rr ON rr.id = t.id JOIN kdb_search ss ON ss.record_id = t.id ORDER BY t.distance, t.id`;
}

/** How vectorSql reads the segments beyond their HNSW graphs. */
export interface SegmentLayout {
  /** The seq above which rows are hot (scanned exactly). Default: sealedUpTo(segments); segmentsFor leaves some out, so pass the whole catalog's. */
  hotAbove?: VectorSeq;
  /** Index names of the segments read exactly instead of through their graph (scansExactly). Default none. */
  exact?: ReadonlySet<string>;
}

/** A hit's record as the vector statement returns it `withRows`. */
export interface VectorRow {
  id: string;
  data: Record<string, unknown>;
  content: string;
}

export interface VectorRetrieverOptions {
  /** The search pool, whose sessions ran vectorSessionSql(efSearch). Required. */
  pool: pg.Pool;
  /**
   * `hnsw.ef_search`: a number the pool's sessions use (vectorSessionSql of
   * it), or `auto`, efSearchFor the largest segment searched. Default `auto`.
   */
  efSearch?: number | 'auto' | undefined;
  /** How long the segment catalog is reused, in ms (any version finds every vector). Default 1000. */
  segmentCacheMs?: number | undefined;
  /** Replaces EXACT_SCAN_ROWS in scansExactly (a segment's share rule stays); 0: every segment through its graph. Default EXACT_SCAN_ROWS. */
  exactScanRows?: number | undefined;
}

export interface VectorRequest {
  /** The query text. Required. */
  q: string;
  /** Entities searched, as one collection. Required. */
  entities: readonly string[];
  /** Rows wanted. Required. */
  k: number;
  /** The space searched (the active one) and where query texts become its vectors. Required. */
  space: EmbeddingSpace;
  queryVectors: QueryVectorCache;
  /** The `where` filter (non-empty, checked against the entities), or undefined. */
  where: Readonly<Record<string, unknown>> | undefined;
  /**
   * The entities are fewer than all: a segment's HNSW scan is then filtered by
   * entity, and without an iterative scan its ef_search candidates may all be
   * of other entities (a search answering no rows at all). Default false.
   */
  narrowed?: boolean;
  /** The statement returns each hit's data and content too (`rows` of the retrieval). Default false. */
  withRows?: boolean;
  /** Opened once the statement is on its way, or when the retriever failed before sending it. */
  sent: Latch;
  /**
   * Gets the `query_vector` (the query text's vector: process cache, cache
   * table or provider) and `segment_catalog` steps, `embed_query` (the longer
   * of the two, run at once), `vector_settings` (the transaction and its SET
   * LOCALs, when the statement needs them) and `vector` (vector_settings
   * included, until the statement's rows are in).
   */
  timings: Timings;
}

export interface VectorRetrieval {
  hits: RankedHit[];
  /** The statement that found the hits (for explain's plan). */
  query: { text: string; values: unknown[] };
  /** The sealed segments it scanned (segmentsFor the searched entities). */
  segments: VectorSegment[];
  /** Index names of the segments it read exactly (few rows of the searched entities: scansExactly), not through their graph. */
  exact: ReadonlySet<string>;
  /** Sealed segments left out: they hold no vector of the searched entities. */
  skippedSegments: number;
  /** The seq above which it scanned rows exactly (the hot range). */
  hotAbove: VectorSeq;
  /** hnsw.ef_search asked for (the configured one, or auto's for the segments); the statement ran at the larger of it and the rows asked. */
  efSearch: number;
  /** The hits' records, in hit order, when asked `withRows`. */
  rows?: VectorRow[];
}

/** hnsw.ef_search of each connection's session, as run() with `auto` set it (absent: not set by it). */
const sessionEfs = new WeakMap<pg.ClientBase, number>();
/** Pools some of whose sessions run() with `auto` moved off the default ef_search. */
const alteredPools = new WeakSet<pg.Pool>();

/** Cosine distance over the sealed segments' HNSW indexes and the hot rows of one space. */
export class VectorRetriever {
  /** The segment catalog per space, reused for segmentCacheMs: any version finds every vector. */
  private readonly catalogs = new Map<number, () => Promise<VectorSegment[]>>();

  constructor(private readonly opts: VectorRetrieverOptions) {}

  private segments(spaceId: number): Promise<VectorSegment[]> {
    let load = this.catalogs.get(spaceId);
    if (!load) this.catalogs.set(spaceId, (load = reuseFor(this.opts.segmentCacheMs ?? 1000, () => listVectorSegments(this.opts.pool, spaceId))));
    return load();
  }

  async retrieve({ q, entities, k, where, narrowed = false, withRows = false, sent, timings, space, queryVectors }: VectorRequest): Promise<VectorRetrieval> {
    let t = performance.now();
    let pending: Promise<({ id: string; entity: string; distance: number } & Partial<VectorRow>)[]>;
    let query: VectorRetrieval['query'];
    let segments: VectorSegment[];
    let catalog: VectorSegment[];
    let exact: Set<string>;
    let hotAbove: VectorSeq;
    let efSearch: number;
    let handedOff = false;
    try {
      let vector: number[];
      const start = t;
      const step = async <T>(name: string, p: Promise<T>): Promise<T> => {
        const value = await p;
        timings.lap(name, start);
        return value;
      };
      // Both at once: embed_query is the longer of the query-vector lookup and the catalog read.
      [vector, catalog] = await Promise.all([step('query_vector', queryVectors.get(q)), step('segment_catalog', this.segments(space.id))]);
      timings.lap('embed_query', t);
      t = performance.now();
      segments = segmentsFor(catalog, entities);
      exact = new Set(segments.filter((x) => scansExactly(x, entities, this.opts.exactScanRows)).map((x) => x.indexName));
      const values: unknown[] = [pgvector.toSql(vector), entities];
      if (where) values.push(JSON.stringify(where));
      hotAbove = sealedUpTo(catalog);
      query = { text: vectorSql(segments, !!where, k, space.id, withRows, { hotAbove, exact }), values };
      // One prepared statement per segment layout and row count (the text changes with either).
      const name = `kdb_vector_${createHash('sha1').update(query.text).digest('hex').slice(0, 12)}`;
      efSearch = this.efFor(segments.filter((x) => !exact.has(x.indexName)));
      handedOff = true;
      pending = this.run<{ id: string; entity: string; distance: number } & Partial<VectorRow>>({ name, ...query }, !!where || narrowed, k, () => sent.open(), timings, efSearch);
    } finally {
      if (!handedOff) sent.open();
    }
    const rows = await pending;
    timings.lap('vector', t);
    // relaxed_order iterative scans (filtered queries) may return rows slightly out of order.
    rows.sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : 1));
    const hits = rows.map((r, i) => ({ id: r.id, entity: r.entity, rank: i + 1, score: 1 - Number(r.distance) }));
    return { hits, query, segments, exact, skippedSegments: catalog.length - segments.length, hotAbove, efSearch, ...(withRows ? { rows: rows.map((r) => ({ id: r.id, data: r.data!, content: r.content! })) } : {}) };
  }

  /**
   * The `hnsw.ef_search` of a search over `segments`: the configured one, or
   * (`auto`) efSearchFor the rows of the largest segment.
   */
  efFor(segments: readonly VectorSegment[]): number {
    const fixed = this.opts.efSearch;
    if (typeof fixed === 'number') return fixed;
    return efSearchFor(segments.reduce((most, s) => Math.max(most, s.rows), 0));
  }

  /**
   * Runs a vector statement asking `rows` rows at candidate list `ef`. With a
   * `where` filter, inside a transaction with `hnsw.iterative_scan =
   * relaxed_order`, so the HNSW scan goes on past ef_search candidates until
   * `rows` rows pass the filter; when `rows` exceeds `ef`, inside a
   * transaction that raises it to `rows` (an HNSW scan returns at most
   * ef_search rows). The pool's sessions run vectorSessionSql of the
   * configured ef_search (of the default with `auto`), and a plain statement
   * at that setting goes straight to the pool. Once `auto` wants another, each
   * connection's session setting is changed where it differs: once per
   * connection and step of efSearchFor, not per search.
   */
  async run<R extends pg.QueryResultRow>(
    query: pg.QueryConfig,
    filtered: boolean,
    rows: number,
    onSent: () => void = () => undefined,
    timings?: Timings,
    ef: number = typeof this.opts.efSearch === 'number' ? this.opts.efSearch : DEFAULT_EF_SEARCH,
  ): Promise<R[]> {
    const { pool } = this.opts;
    // A configured ef_search is what the pool's sessions run (vectorSessionSql): a search
    // wanting another gets it by SET LOCAL, as before auto. With auto the sessions start at
    // the default and are moved (a session SET, tracked per connection) when a search wants more.
    const configured = typeof this.opts.efSearch === 'number' ? this.opts.efSearch : undefined;
    const plain = !filtered && rows <= ef;
    if (plain && (configured !== undefined ? ef === configured : ef === DEFAULT_EF_SEARCH && !alteredPools.has(pool))) {
      const answer = pool.query<R>(query);
      onSent();
      return (await answer).rows;
    }
    const t = performance.now();
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      onSent();
      throw err;
    }
    // As withClient: a connection lost while checked out must not end the process, nor go back to the pool.
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost ??= err;
    };
    client.on('error', onError);
    const release = (err?: Error) => {
      client.removeListener('error', onError);
      client.release(err ?? lost);
    };
    const sessionEf = configured ?? sessionEfs.get(client) ?? (alteredPools.has(pool) ? undefined : DEFAULT_EF_SEARCH);
    let open = false;
    try {
      if (plain && configured === undefined) {
        if (sessionEf !== ef) {
          if (ef !== DEFAULT_EF_SEARCH) alteredPools.add(pool);
          await client.query(`SET hnsw.ef_search = ${Math.trunc(ef)}`);
          sessionEfs.set(client, ef);
          timings?.lap('vector_settings', t);
        }
        const answer = client.query<R>(query);
        onSent();
        const out = (await answer).rows;
        release();
        return out;
      }
      const want = Math.max(ef, rows);
      // BEGIN and the SET LOCALs go as one simple-protocol query: one round trip, not three.
      const settings = ['BEGIN', ...(filtered ? ['SET LOCAL hnsw.iterative_scan = relaxed_order'] : []), ...(want !== sessionEf ? [`SET LOCAL hnsw.ef_search = ${Math.trunc(want)}`] : [])];
      open = true;
      await client.query(settings.join('; '));
      timings?.lap('vector_settings', t);
      // Only now is the statement itself on its way (the settings before it took a round trip).
      const answer = client.query<R>(query);
      onSent();
      const out = (await answer).rows;
      // The transaction only carries settings: the answer need not wait for its COMMIT.
      client.query('COMMIT').then(
        () => release(),
        (err: Error) => release(err),
      );
      return out;
    } catch (err) {
      if (isConnectionLoss(err)) lost ??= err as Error;
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      // A failed SET leaves the session's setting unknown: the next search on this connection sets it again.
      sessionEfs.delete(client);
      release();
      throw err;
    } finally {
      onSent();
    }
  }
}
