import type pg from 'pg';
import type { VectorSeq } from '../store/searchRowStore.js';
import { vectorTable } from '../store/embeddingSpaceStore.js';

/** A sealed range of one space's vector writes with its own HNSW index (see sql/000004_vector_segments.sql, 000010). */
export interface VectorSegment {
  indexName: string;
  spaceId: number;
  /** First and last `vector_seq` of the range. */
  lo: VectorSeq;
  hi: VectorSeq;
  /** Rows with a vector in the range when the index was built. */
  rows: number;
  kind: 'seal' | 'merge' | 'migration';
  buildMs: number;
  createdAt: string;
  /**
   * Its index is valid on the server the catalog was read from. The catalog
   * row commits after the index build did, so a replica reading its own
   * catalog sees the index valid once it has replayed the row; should it not
   * be (dropped by a merge since), the planner cannot use it and the range is
   * scanned exactly: slower, never missing a row.
   */
  indexValid: boolean;
  /**
   * Rows of each entity in the range when its index was built (upper bounds
   * now: a sealed range only loses rows), or null where not known (then every
   * search scans it through its graph). sql/000017.
   */
  entityRows: Record<string, number> | null;
}

/** Vectors written after the newest sealed range: scanned exactly by search. */
export interface HotSegment {
  rows: number;
  /** Highest `vector_seq` among them, or null when there are none. */
  hi: VectorSeq | null;
}

/** The sealed segments of space `spaceId` in seq order. */
export async function listVectorSegments(db: pg.Pool | pg.ClientBase, spaceId: number): Promise<VectorSegment[]> {
  const { rows } = await db.query<{ index_name: string; lo: string; hi: string; rows: string; kind: VectorSegment['kind']; build_ms: string; created_at: Date; valid: boolean; entity_rows: Record<string, number> | null }>(
    `SELECT index_name, lo, hi, rows, kind, build_ms, created_at, entity_rows,
            coalesce((SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(s.index_name)), false) AS valid
       FROM kdb_vector_segments s WHERE space_id = $1 ORDER BY lo`,
    [spaceId],
  );
  return rows.map((r) => ({
    indexName: r.index_name,
    spaceId,
    lo: r.lo,
    hi: r.hi,
    rows: Number(r.rows),
    kind: r.kind,
    buildMs: Number(r.build_ms),
    createdAt: r.created_at.toISOString(),
    indexValid: r.valid,
    entityRows: r.entity_rows,
  }));
}

/**
 * The segments a search of `entities` must scan: those that may hold a vector
 * of one of them. The hot range is scanned whatever this leaves out, from
 * sealedUpTo of the whole catalog.
 */
export function segmentsFor(segments: readonly VectorSegment[], entities: readonly string[]): VectorSegment[] {
  return segments.filter((s) => s.entityRows === null || entities.some((e) => rowsOf(s.entityRows!, e) > 0));
}

/** An entity's rows in a segment's counts (own keys only: an entity may be named `constructor`). */
const rowsOf = (counts: Record<string, number>, entity: string): number => (Object.hasOwn(counts, entity) ? counts[entity]! : 0);

/** Rows of `entities` in the segment (upper bounds); null where the catalog does not know. */
export function entityRowsIn(segment: VectorSegment, entities: readonly string[]): number | null {
  if (segment.entityRows === null) return null;
  return entities.reduce((n, e) => n + rowsOf(segment.entityRows!, e), 0);
}

/** The build settings of a segment's HNSW graph; null where its index is gone or the setting was not given. */
export interface SegmentGraph {
  m: number | null;
  efConstruction: number | null;
}

/** The HNSW build settings of segment indexes `indexNames`, by name (an index not found is left out). */
export async function segmentGraphs(db: pg.Pool | pg.ClientBase, indexNames: readonly string[]): Promise<Map<string, SegmentGraph>> {
  const { rows } = await db.query<{ name: string; options: string[] | null }>(
    `SELECT c.relname AS name, c.reloptions AS options FROM pg_class c
      WHERE c.relname = ANY($1::text[]) AND c.relkind = 'i' AND c.relnamespace = current_schema()::regnamespace`,
    [indexNames],
  );
  const option = (options: string[] | null, key: string) => {
    const v = options?.find((o) => o.startsWith(`${key}=`))?.slice(key.length + 1);
    return v === undefined ? null : Number(v);
  };
  return new Map(rows.map((r) => [r.name, { m: option(r.options, 'm'), efConstruction: option(r.options, 'ef_construction') }]));
}

/** The last sealed seq (0 when nothing is sealed): rows above it are hot. */
export function sealedUpTo(segments: readonly VectorSegment[]): VectorSeq {
  return segments.length ? segments[segments.length - 1]!.hi : '0';
}

export async function hotSegment(db: pg.Pool | pg.ClientBase, spaceId: number, above: VectorSeq): Promise<HotSegment> {
  const { rows } = await db.query<{ n: string; hi: string | null }>(
    `SELECT count(*) AS n, max(vector_seq)::text AS hi FROM ${vectorTable(spaceId)} WHERE vector_seq > $1::bigint`,
    [above],
  );
  return { rows: Number(rows[0]!.n), hi: rows[0]!.hi };
}

/** The seq of the `n`-th vector above `above` in seq order (an index range scan on vector_seq), or null when fewer are there. */
export async function seqOfRow(db: pg.Pool | pg.ClientBase, spaceId: number, above: VectorSeq, n: number): Promise<VectorSeq | null> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`row number must be a positive integer; got ${n}`);
  const { rows } = await db.query<{ seq: string }>(
    `SELECT vector_seq::text AS seq FROM ${vectorTable(spaceId)} WHERE vector_seq > $1::bigint ORDER BY vector_seq OFFSET $2 LIMIT 1`,
    [above, n - 1],
  );
  return rows[0]?.seq ?? null;
}

/**
 * Segment bounds go into DDL and partial-index predicates, where Postgres
 * takes no parameters (and the planner must see constants to match a query
 * to a partial index); they come from our own bigint columns and are checked
 * to be plain integers before they are written into SQL.
 */
export function seqLiteral(v: VectorSeq): string {
  if (!/^\d{1,19}$/.test(v)) throw new Error(`vector_seq bound must be a non-negative integer, got "${v}"`);
  return v;
}

/** `kdb_vseg_<space>_<lo>_<hi>`: built from integers only. */
export function segmentIndexName(spaceId: number, lo: VectorSeq, hi: VectorSeq): string {
  return `${vectorTable(spaceId).replace('kdb_vectors_', 'kdb_vseg_')}_${seqLiteral(lo)}_${seqLiteral(hi)}`;
}

/** The names segmentIndexName makes (the segment manager drops only indexes of this shape). */
export const SEGMENT_INDEX_NAME = /^kdb_vseg_\d+_\d+_\d+$/;

export interface VectorIndexStatus {
  /** Sealed segments, oldest first (one HNSW index each). */
  segments: Omit<VectorSegment, 'indexName' | 'spaceId' | 'indexValid' | 'entityRows'>[];
  /** Vectors above the last sealed seq, found by an exact scan until sealed. */
  hotRows: number;
  /** A segment index being built right now (CREATE INDEX CONCURRENTLY in progress). */
  building: boolean;
}

/** What operators see of a space's vector index: segments, hot rows, a build in progress. */
export async function vectorIndexStatus(db: pg.Pool | pg.ClientBase, spaceId: number): Promise<VectorIndexStatus> {
  const segments = await listVectorSegments(db, spaceId);
  const [hot, building] = await Promise.all([
    hotSegment(db, spaceId, sealedUpTo(segments)),
    db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid
        WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND c.relname LIKE $1`,
      [`kdb\\_vseg\\_${vectorTable(spaceId).slice('kdb_vectors_'.length)}\\_%`],
    ),
  ]);
  return {
    segments: segments.map(({ lo, hi, rows, kind, buildMs, createdAt }) => ({ lo, hi, rows, kind, buildMs, createdAt })),
    hotRows: hot.rows,
    building: building.rows[0]!.n > 0,
  };
}
