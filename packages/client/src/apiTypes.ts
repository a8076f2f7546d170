import type { z } from 'zod';
import type {
  Entity,
  EntityInput,
  EntityPatch,
  FieldType,
  cacheDeleteQuerySchema,
  recordListQuerySchema,
  reindexBodySchema,
  searchSchema,
  SEARCH_MODES,
  spaceBodySchema,
  ACTIVATE_MODES,
  DryRunReport,
  EmbeddingCounts,
  FusedPart,
  EmbeddingSpace,
  EmbeddingState,
  ReindexRun,
  RunState,
  SpaceState,
  StoredRecord,
  Analyzer,
  AnalyzerRun,
  ReplicaStatus,
} from '@kameleondb/schemas';
// Answers the server names too: one definition, in @kameleondb/schemas.
export type { Analyzer, AnalyzerRun, DryRunReport, EmbeddingCounts, FusedPart, EmbeddingSpace, EmbeddingState, ReindexRun, RunState, SpaceState, StoredRecord, ReplicaStatus };

// Requests: the types of the zod schemas the API validates them with.
export type { Entity, EntityInput, EntityPatch, FieldType };
type SearchBody = z.infer<typeof searchSchema>;
/** `POST /v1/search` (or the GET query): `mode` and `limit` have defaults (hybrid, 10). */
export type SearchRequest = Omit<SearchBody, 'mode' | 'limit'> & Partial<Pick<SearchBody, 'mode' | 'limit'>>;
export type SearchMode = (typeof SEARCH_MODES)[number];
/** Body of `POST /v1/reindex`: `entity` (default every entity), `force` (default false). */
export type ReindexRequest = Omit<z.input<typeof reindexBodySchema>, 'dryRun'>;
/** `GET /v1/entities/:name/records`: `limit` 1..1000 (default 50), `after` a record id. */
export type RecordListQuery = z.infer<typeof recordListQuerySchema>;
type SpaceBody = z.input<typeof spaceBodySchema>;
/** `POST /v1/spaces`: provider, model, dimensions, `baseUrl` (never a secret), `activate` (default auto). */
export type SpaceRequest = Omit<SpaceBody, 'dryRun'>;
export type ActivateMode = (typeof ACTIVATE_MODES)[number];
type CacheDeleteQuery = z.infer<typeof cacheDeleteQuerySchema>;
/** What `DELETE /v1/cache` deletes: by last use (30d, 12h, 90m) and model key, or every entry. */
export type CacheClearRequest = Pick<CacheDeleteQuery, 'olderThan' | 'model'> | { all: true };

// Answers: what the API sends back.



/** `GET /v1/entities/:name`: the entity, its record count and embedding counts. */
export type EntityDescription = Entity & { records: number; embedding: Omit<EmbeddingCounts, 'entity'> };




/** `PATCH /v1/entities/:name`: the entity, the reindex run its change started and the postings rebuild a new analyzer started (null when none). */
export type EntityUpdate = Entity & { reindex: ReindexRun | null; analyzerRun: AnalyzerRun | null };

export interface InsertAnswer {
  count: number;
  ids: string[];
  jobs: number;
  /** true: an earlier request with this Idempotency-Key inserted them; nothing was written. */
  replayed?: boolean;
  /** Set when the records are stored but their embed jobs could not be enqueued (the sweeper will). */
  warning?: string;
  /** With wait: the embedding states, and whether none is pending. */
  counts?: { ready: number; pending: number; failed: number };
  done?: boolean;
}

export type RecordUpdate = StoredRecord & { reembed: boolean; warning?: string };

export interface BatchUpdateAnswer {
  count: number;
  ids: string[];
  reembed: number;
  jobs: number;
  warning?: string;
}

export interface BatchDeleteAnswer {
  deleted: number;
  ids: string[];
}

export interface RecordPage {
  records: StoredRecord[];
  /** The `after` of the next page; null on the last one. */
  next: string | null;
}

export interface SearchResult {
  entity: string;
  id: string;
  score: number;
  data: Record<string, unknown>;
  content: string;
  explain?: Partial<Record<'keyword' | 'vector', FusedPart>>;
}

export interface SearchAnswer {
  results: SearchResult[];
  count: number;
  /** The model key of the embedding space that answered (the active one). */
  space: string;
  mode: SearchMode;
  took_ms: number;
  /** Served from the API process's result cache (no write changed the searched entities since it was kept). */
  cached: boolean;
  /** The server that ran the search: `primary` or a replica's host:port/database. */
  servedBy: string;
  explain?: { timings_ms: Record<string, number>; plans: { keyword?: string; vector?: string }; window: number; rrfK?: number; fusion?: Record<string, unknown>; efSearch: number } & Record<string, unknown>;
}

/** Nearest-rank quantiles of latencies in ms (within 2%: log-spaced buckets), null before the first. */
export interface LatencyQuantiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface SearchMetricsPeriod {
  searches: number;
  cacheHits: number;
  /** cacheHits / searches; null before the first search. */
  cacheHitRate: number | null;
  latencyMs: LatencyQuantiles;
  byMode: Record<SearchMode, LatencyQuantiles>;
  /** Each retriever's own time, when it ran (a cached answer runs none). */
  byRetriever: Record<'keyword' | 'vector', LatencyQuantiles>;
}

/** `GET /v1/search/metrics`: one API process's numbers. */
export interface SearchMetrics {
  /** When the process started counting. */
  since: string;
  sinceStart: SearchMetricsPeriod;
  last5m: SearchMetricsPeriod;
  resultCache: { enabled: boolean; entries: number; bytes: number; maxEntries: number; maxBytes: number };
}

export interface EmbeddingStatus {
  provider: string;
  model: string;
  dimensions: number;
  modelKey: string;
  /** null when the active space is not this API process's configured provider. */
  maxInputs: number | null;
  /** The model key of the active space: what search serves. */
  space: string;
  /** Spaces (active or building) whose provider the API process cannot build, and why. */
  spaceProblems: { space: string; error: string }[];
  entities: EmbeddingCounts[];
  /** null when Redis did not answer; `warning` then says so. */
  activeRuns: ReindexRun[] | null;
  warning?: string;
  vectorIndex: { segments: { lo: string; hi: string; rows: number; buildMs: number }[]; hotRows: number; building: boolean };
  /** Search replicas (KDB_SEARCH_DATABASE_URL): rotation and lag; empty without any. */
  replicas: ReplicaStatus[];
}

export interface CacheSummary {
  entries: number;
  bytes: number;
  models: { modelKey: string; entries: number; hits: number; oldestUse: string | null; newestUse: string | null }[];
  hits: number;
  misses: number;
  hitRate: number | null;
  statsSince: string | null;
}

export interface CacheClearAnswer {
  deleted: number;
  olderThan: string | null;
  model: string | null;
}



/** A space as `GET /v1/spaces` lists it: rows holding a vector of their current text there, of all rows, and its build run. */
export type SpaceView = EmbeddingSpace & { embedded: number; total: number; buildRun: ReindexRun | null };

export interface SpaceList {
  spaces: SpaceView[];
  /** The active space's model key; null before one is seeded. */
  active: string | null;
}

/** `POST /v1/spaces`: the space (building) and the run that builds it. */
export interface SpaceBuild {
  space: EmbeddingSpace;
  run: ReindexRun;
}

/** `POST /v1/spaces` with dryRun: what building the space would cost; `exists` when it is already known. */
export type SpaceDryRun = DryRunReport & { space: string; exists: boolean };
