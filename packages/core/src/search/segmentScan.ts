import { entityRowsIn, type VectorSegment } from '../segments/vectorSegmentStore.js';

/**
 * A sealed segment is read exactly (the searched entities' rows of its range
 * through the (entity, vector_seq) index, then a top-k sort) instead of
 * through its HNSW graph when it holds at most EXACT_SCAN_ROWS rows of them,
 * or at most EXACT_SCAN_SHARE of its rows and EXACT_SCAN_MAX_ROWS. The exact
 * read costs about half a microsecond a row whatever the query, and finds
 * the true nearest. A graph scan filtered to entities holding a small share
 * of the graph costs what the query's neighbourhood holds of other entities,
 * and gives up at pgvector's hnsw.max_scan_tuples. Measured on the 100k
 * bench:search database (2026-12-03), 40 queries not about the entity, vector
 * step p50 / p95: 240 rows of a 30,240-row segment 17.1 / 50.5 ms through the
 * graph against 1.7 / 4.7 read exactly; 20,000 rows of a 140,000-row segment
 * 23.0 / 75.0 ms through the graph with recall@10 0.75 and 7 of 40 answers
 * short of 10 rows, against about 10 ms read exactly; queries near the
 * entity's own rows found them through the graph in 2 ms.
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
