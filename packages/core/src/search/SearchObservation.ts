import type { SEARCH_MODES } from '@kameleondb/schemas';

/** One answered search, as the engine reports it to metrics. */
export interface SearchObservation {
  mode: (typeof SEARCH_MODES)[number];
  /** The whole search, in ms. */
  ms: number;
  /** Served from the result cache (no retriever ran). */
  cached: boolean;
  /** The keyword retriever's time, when it ran. */
  keywordMs?: number | undefined;
  /** The vector retriever's time (with the query embedding), when it ran. */
  vectorMs?: number | undefined;
  /** Each step's ms (explain's timings_ms: entities, route, space, retrievers, keyword, vector, fusion, fetch …), for measurements. */
  steps?: Readonly<Record<string, number>> | undefined;
}
