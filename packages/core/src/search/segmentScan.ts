import { entityRowsIn, type VectorSegment } from '../segments/vectorSegmentStore.js';

/**
 * A sealed segment is read exactly (the searched entities' rows of its range
 * through the (entity, vector_seq) index, then a top-k sort) instead of
 * through its HNSW graph when it holds at most EXACT_SCAN_ROWS rows of them,
 * or at most EXACT_SCAN_SHARE of its rows and EXACT_SCAN_MAX_ROWS. The exact
 * read costs the same per row whatever the query and finds the true nearest;
 * a graph scan filtered to entities holding a small share of the graph costs
 * what the query's neighbourhood holds of other entities, and gives up at
 * pgvector's hnsw.max_scan_tuples, short of the rows asked. Queries near a
 * large entity's own rows find them faster through the graph, hence the caps
 * (docs/decisions/segment-entity-rows.md).
 */
export const EXACT_SCAN_ROWS = 5_000;
export const EXACT_SCAN_SHARE = 0.25;
export const EXACT_SCAN_MAX_ROWS = 25_000;

/**
 * Whether a search of `entities` reads `segment` exactly (see
 * EXACT_SCAN_ROWS; `maxRows` replaces EXACT_SCAN_ROWS, and 0 turns exact
 * reads off); a segment whose rows per entity are not known goes through its graph.
 */
export function scansExactly(segment: VectorSegment, entities: readonly string[], maxRows = EXACT_SCAN_ROWS): boolean {
  const rows = entityRowsIn(segment, entities);
  if (rows === null || maxRows === 0) return false;
  return rows <= maxRows || (rows <= EXACT_SCAN_MAX_ROWS && rows <= segment.rows * EXACT_SCAN_SHARE);
}
