export * from './errors.js';
export { createLogger } from './createLogger.js';
export { pipelineEnvShape, parseEnv, providerConfigFromEnv, providerConfigForSpace, spaceSeedOf } from './config/pipelineEnv.js';
export { DEFAULTS, BUILD_MEMORY_PATTERN } from './config/defaults.js';
export { createPipeline, type Pipeline, type PipelineOptions, type RecordsIngest, type EntityDescription, type SpaceView, type ResultCacheStatus } from './pipeline/createPipeline.js';
export { createWorkerProvider, type WorkerProviderOptions } from './pipeline/createWorkerProvider.js';
export { observeBatch } from './pipeline/observeBatch.js';
export { queueIsBusy, BUSY_STATES } from './jobs/queueIsBusy.js';
export { unstorableText } from './content/unstorableText.js';
export { entityInputSchema, FIELD_TYPES, type Entity, type EntityInput, type FieldType } from '@kameleondb/schemas';
export { MAX_JSON_DEPTH } from './entities/validateRecord.js';
export type { EmbeddingProvider, ProviderLimits, EmbedOptions } from './embedding/EmbeddingProvider.js';
export { HashProvider } from './embedding/HashProvider.js';
export { OpenAIProvider, OPENAI_MAX_INPUTS } from './embedding/OpenAIProvider.js';
export { createProvider, PROVIDER_NAMES, type ProviderConfig, type ProviderName } from './embedding/createProvider.js';
export { createPool, type PoolOptions } from './store/createPool.js';
export { migrate, type MigrateResult } from './store/migrate.js';
export { SpaceProviders, type ProviderFactory, type SpaceProblem } from './spaces/SpaceProviders.js';
export { completeBuilds, checkedModelKey, type NewSpace } from './spaces/spaceAdmin.js';
export {
  listSpaces,
  activeSpace,
  spaceByKey,
  vectorTable,
  SPACE_STATES,
  ACTIVATE_MODES,
  type EmbeddingSpace,
  type SpaceSeed,
  type SpaceState,
  type ActivateMode,
} from './store/embeddingSpaceStore.js';
export { isConnectionLoss } from './store/isConnectionLoss.js';
export { copyInto } from './store/copyInto.js';
export { createEntity, getEntity, listEntities } from './store/entityStore.js';
export { getRecord, patchRecord, deleteRecord, MAX_DELETE_IDS, type StoredRecord } from './store/recordStore.js';
export { embeddingStatusByEntity, type StatusCounts, type EntityEmbeddingStatus } from './store/searchRowStore.js';
export { EMBED_QUEUE, createEmbedQueue, enqueueEmbed, type EmbedJobData } from './jobs/embedQueue.js';
export { createRedis, REDIS_MODES, type RedisClient, type RedisMode, type RedisTarget } from './redis/createRedis.js';
export { checkRedisEnv, hashTagOf, redisTargetOf, MAX_REDIS_URLS } from './config/redisEnv.js';
export type { EmbedBatchResult } from './batching/embedBatch.js';
export { startEmbedWorker, type EmbedWorker, type EmbedWorkerOptions } from './batching/EmbedWorker.js';
export { readNdjson, fromJsonBody, type SourcedValue, type ReadNdjsonOptions } from './ingest/readNdjson.js';
export { printable } from './http/printable.js';
export { ingestRecords, MAX_REQUEST_RECORDS, type IngestResult } from './ingest/ingestRecords.js';
export { RecordIds } from './ingest/RecordIds.js';
export { patchRecords, type PatchRecordsResult, type PatchRecordsOptions } from './ingest/patchRecords.js';
export { REINDEX_QUEUE, createReindexQueue, type ReindexJobData } from './jobs/reindexQueue.js';
export { MAINTENANCE_QUEUE, SCHEDULE_CHECK_EVERY_MS, startMaintenance } from './jobs/startMaintenance.js';
export { ReindexRunStore, NEVER_COMMITTED, type ReindexRun, type RunState, type RunCreation, type RunOptions } from './reindex/ReindexRunStore.js';
export { startCancelWatcher, type CancelWatcher } from './reindex/CancelWatcher.js';
export { startReindex, startReindexIn, runConflict, getRun, type StartReindexDeps, type StartReindexOptions } from './reindex/startReindex.js';
export { startReindexPlanner } from './reindex/startReindexPlanner.js';
export { dryRunReindex, type DryRunReport } from './reindex/dryRunReindex.js';
export { CacheStats } from './cache/CacheStats.js';
export { EmbedClaims, CLAIMS_PER_ROUND_TRIP, type EmbedClaimsOptions, type ClaimWait } from './cache/EmbedClaims.js';
export { cacheSummary, clearCache, type CacheSummary } from './cache/cacheAdmin.js';
export { parseDuration } from './util/parseDuration.js';
export { TimeoutError } from './util/withTimeout.js';
export { entityPatchSchema, type EntityPatch } from '@kameleondb/schemas';
export { updateEntity, updateEntityIn } from './store/entityStore.js';
export type { Outcome } from './batching/embedBatch.js';
export { waitForEmbedded } from './ingest/waitForEmbedded.js';
export { tokenize } from './content/tokenize.js';
export { analyzerOf, analyzedFrequencies, ANALYZERS, type Analyzer, type AnalyzeText } from './content/analyzers.js';
export { PostingsRebuilder, type PostingsRebuilderOptions } from './analyzers/PostingsRebuilder.js';
export type { AnalyzerRun } from '@kameleondb/schemas';
export { SearchEngine, SEARCH_MODES, type SearchMode, type SearchParams, type SearchAnswer, type SearchResult, type ServedBy } from './search/SearchEngine.js';
export { vectorSql } from './search/VectorRetriever.js';
export { DEFAULT_EF_SEARCH, efSearchFor, EF_BASE_ROWS, EF_GROWTH, MAX_EF_SEARCH } from './search/efSearchFor.js';
export { EXACT_SCAN_MAX_ROWS, EXACT_SCAN_ROWS, EXACT_SCAN_SHARE, scansExactly } from './search/segmentScan.js';
export { ReplicaRouter, replicaName, type ReplicaStatus, type Route, type RouteReason, type SearchServer, type ReplicaRouterOptions } from './search/ReplicaRouter.js';
export { lsnBytes, walInsertLsn, type WalLsn } from './store/walPosition.js';
export { RRF_K, type Fusion } from './search/Fusion.js';
export type { FusionWeights } from './search/fuseLinear.js';
export type { Normalization } from './search/normalizeScores.js';
export { BM25_B, BM25_K1, bm25Idf } from './search/bm25Statistics.js';
export { PipelineMetrics } from './metrics/PipelineMetrics.js';
export { SearchMetrics, SEARCH_METRICS_WINDOW_MS, type SearchMetricsReport, type SearchMetricsPeriod } from './metrics/SearchMetrics.js';
export { LatencyHistogram, type LatencyQuantiles } from './metrics/LatencyHistogram.js';
export { ResultCache, DEFAULT_RESULT_CACHE_BYTES, DEFAULT_RESULT_CACHE_ENTRIES, type ResultCacheOptions, type ResultCacheEvent } from './search/ResultCache.js';
export type { SearchObservation } from './search/SearchObservation.js';
export { readResultVersions } from './store/resultVersionStore.js';
export { instrumentProvider } from './embedding/instrumentProvider.js';
export { sweepPending } from './jobs/sweepPending.js';
export { checkReadiness, type Readiness } from './metrics/checkReadiness.js';
export { startProbeServer } from './metrics/startProbeServer.js';
export { withSharedBackoff } from './embedding/withSharedBackoff.js';
export { FastEmbedProvider, FASTEMBED_MODELS } from './embedding/FastEmbedProvider.js';
export { withRequestBudget } from './embedding/withRequestBudget.js';
export { SegmentManager, HNSW_BUILD, DEFAULT_SEGMENT_POLICY, type SegmentManagerOptions, type SegmentStep } from './segments/SegmentManager.js';
export type { SegmentPolicy, SegmentWork } from './segments/planSegmentWork.js';
export { hnswRowsInMemory } from './segments/hnswRowsInMemory.js';
export { listVectorSegments, sealedUpTo, segmentsFor, vectorIndexStatus, type VectorSegment, type HotSegment, type VectorIndexStatus } from './segments/vectorSegmentStore.js';
export { keywordTopKAllLayouts, type KeywordTopKAllLayouts } from './search/keywordTopKAllLayouts.js';
export { blockTopK, type BlockTopK } from './search/blockTopK.js';
export { keywordTopK, readStatsAndHeads, type KeywordTopK, type KeywordHit, type KeywordTerm, type HeadRow, type StatsAndHeads } from './search/keywordTopK.js';
export { BLOCKS_MIN_DOCS } from './store/keywordIndex.js';
