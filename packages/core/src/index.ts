export * from './errors.js';
export { createLogger } from './createLogger.js';
export { pipelineEnvShape, parseEnv, providerConfigFromEnv } from './config/pipelineEnv.js';
export { normalizeText } from './content/normalizeText.js';
export { textHash } from './content/textHash.js';
export { unstorableText } from './content/unstorableText.js';
export { entityInputSchema, FIELD_TYPES, type Entity, type EntityInput, type FieldType } from './entities/entitySchema.js';
export { MAX_JSON_DEPTH } from './entities/validateRecord.js';
export type { EmbeddingProvider, ProviderLimits, EmbedOptions } from './embedding/EmbeddingProvider.js';
export { HashProvider } from './embedding/HashProvider.js';
export { OpenAIProvider, OPENAI_MAX_INPUTS } from './embedding/OpenAIProvider.js';
export { createProvider, PROVIDER_NAMES, type ProviderConfig, type ProviderName } from './embedding/createProvider.js';
export { createPool, type PoolOptions } from './store/createPool.js';
export { migrate } from './store/migrate.js';
export { withTransaction } from './store/withTransaction.js';
export { isConnectionLoss } from './store/isConnectionLoss.js';
export { copyInto } from './store/copyInto.js';
export { createEntity, getEntity, listEntities } from './store/entityStore.js';
export {
  getRecord,
  patchRecord,
  deleteRecord,
  embeddingStatusByEntity,
  type StoredRecord,
  type StatusCounts,
  type EntityEmbeddingStatus,
} from './store/recordStore.js';
export { EMBED_QUEUE, createRedis, createEmbedQueue, enqueueEmbed, type EmbedJobData } from './jobs/embedQueue.js';
export { embedBatch, EMPTY_TEXT_ERROR, type EmbedBatchResult } from './batching/embedBatch.js';
export { startEmbedWorker, type EmbedWorker, type EmbedWorkerOptions } from './batching/EmbedWorker.js';
export { readNdjson, fromJsonBody, type SourcedValue, type ReadNdjsonOptions } from './ingest/readNdjson.js';
export { printable } from './http/printable.js';
export { ingestRecords, type IngestResult } from './ingest/ingestRecords.js';
export { REINDEX_QUEUE, createReindexQueue, type ReindexJobData } from './jobs/reindexQueue.js';
export { MAINTENANCE_QUEUE, SCHEDULE_CHECK_EVERY_MS, startMaintenance } from './jobs/startMaintenance.js';
export { ReindexRunStore, type ReindexRun, type RunState } from './reindex/ReindexRunStore.js';
export { startCancelWatcher, type CancelWatcher } from './reindex/CancelWatcher.js';
export { startReindex, getRun } from './reindex/startReindex.js';
export { startReindexPlanner } from './reindex/startReindexPlanner.js';
export { dryRunReindex, type DryRunReport } from './reindex/dryRunReindex.js';
export { CacheStats } from './cache/CacheStats.js';
export { cacheSummary, clearCache, evictCache, type CacheSummary } from './cache/cacheAdmin.js';
export { parseDuration } from './util/parseDuration.js';
export { TimeoutError } from './util/withTimeout.js';
export { entityPatchSchema, type EntityPatch } from './entities/entitySchema.js';
export { updateEntity } from './store/entityStore.js';
export type { Outcome } from './batching/embedBatch.js';
export { waitForEmbedded } from './ingest/waitForEmbedded.js';
export { tokenize, termFrequencies } from './search/tokenize.js';
export { SearchEngine, vectorSql, SEARCH_MODES, BM25_B, BM25_K1, bm25Idf, DEFAULT_EF_SEARCH, type SearchMode, type SearchParams, type SearchAnswer, type SearchResult } from './search/SearchEngine.js';
export { PipelineMetrics } from './metrics/PipelineMetrics.js';
export { instrumentProvider } from './embedding/instrumentProvider.js';
export { sweepPending } from './jobs/sweepPending.js';
export { checkReadiness, type Readiness } from './metrics/checkReadiness.js';
export { startProbeServer } from './metrics/startProbeServer.js';
export { withSharedBackoff } from './embedding/withSharedBackoff.js';
export { FastEmbedProvider, FASTEMBED_MODELS } from './embedding/FastEmbedProvider.js';
export { withRequestBudget } from './embedding/withRequestBudget.js';
export { SegmentManager, HNSW_BUILD, type SegmentManagerOptions, type SegmentStep } from './segments/SegmentManager.js';
export { planSegmentWork, type SegmentPolicy, type SegmentWork } from './segments/planSegmentWork.js';
export { listVectorSegments, vectorIndexStatus, type VectorSegment, type HotSegment, type VectorIndexStatus } from './segments/vectorSegmentStore.js';
export { keywordTopK, readStatsAndHeads, type KeywordTopK, type KeywordHit, type KeywordTerm, type HeadRow, type StatsAndHeads } from './search/keywordTopK.js';
