/**
 * HNSW candidate list of the vector retriever: the hybrid window of a 10-row
 * search, enough for the segments' build settings (HNSW_BUILD) to find the
 * true top 10 nearly always (docs/decisions/hnsw-settings.md). A query asking
 * more rows than this raises it for its own transaction (an HNSW scan returns
 * at most ef_search rows). Segments past EF_BASE_ROWS get more (efSearchFor).
 */
export const DEFAULT_EF_SEARCH = 40;

/** Rows of a segment whose graph DEFAULT_EF_SEARCH still searches to recall@10 ≥ 0.95. */
export const EF_BASE_ROWS = 10_000;
/** Growth of the candidate list with a graph's rows: ef = DEFAULT_EF_SEARCH × (rows / EF_BASE_ROWS)^EF_GROWTH. */
export const EF_GROWTH = 0.4;
/** pgvector's largest hnsw.ef_search. */
export const MAX_EF_SEARCH = 1000;

/**
 * The `hnsw.ef_search` a search uses when none is configured, from the rows
 * of the largest sealed segment it scans: recall at a fixed candidate list
 * falls as a graph grows (pnpm bench:scale; docs/decisions/adaptive-ef-search.md).
 * Rounded up to a multiple of 10, so the setting changes in steps, not with
 * every merge.
 */
export function efSearchFor(largestSegmentRows: number): number {
  if (!(largestSegmentRows > EF_BASE_ROWS)) return DEFAULT_EF_SEARCH;
  const ef = DEFAULT_EF_SEARCH * (largestSegmentRows / EF_BASE_ROWS) ** EF_GROWTH;
  return Math.min(MAX_EF_SEARCH, Math.ceil(ef / 10) * 10);
}
