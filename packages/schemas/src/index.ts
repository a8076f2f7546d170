// The request schemas of the KameleonDB Pipeline API: the API validates with
// them, the typed client takes its request types from them. zod only.
export { entityInputSchema, entityPatchSchema, ENTITY_NAME_RE, type Entity, type EntityInput, type EntityPatch } from './entitySchema.js';
export { ANALYZERS, analyzerSchema, ANALYZER_RUN_STATES, type Analyzer, type AnalyzerRun, type AnalyzerRunState } from './analyzer.js';
export { FIELD_TYPES, canonicalType, type FieldType } from './fieldTypes.js';
export { isBuiltinName, builtinNameMessage } from './isBuiltinName.js';
export { fieldNames, normalizeFields, type FieldsInput, type NormalizedFields } from './normalizeFields.js';
export { searchSchema, CONSISTENCIES, SEARCH_MODES, FUSIONS, NORMALIZATIONS, MAX_QUERY_LENGTH, whereValueSchema } from './searchSchema.js';
export { walLsnSchema, WAL_LSN_PATTERN } from './walLsn.js';
export { reindexBodySchema } from './reindexBodySchema.js';
export { runListQuerySchema } from './runListQuerySchema.js';
export { cacheDeleteQuerySchema } from './cacheDeleteQuerySchema.js';
export { waitQuerySchema } from './waitQuerySchema.js';
export { recordListQuerySchema } from './recordListQuerySchema.js';
export { spaceBodySchema, PROVIDER_NAMES, ACTIVATE_MODES } from './spaceBodySchema.js';
// Answers the server and the client both name.
export { RUN_STATES, type RunState, type ReindexRun } from './reindexRun.js';
export type { DryRunReport } from './dryRunReport.js';
export type { EmbeddingState, StoredRecord, EmbeddingCounts } from './storedRecord.js';
export { SPACE_STATES, type SpaceState, type EmbeddingSpace } from './embeddingSpace.js';
export type { FusedPart } from './fusedPart.js';
export type { ReplicaStatus } from './replicaStatus.js';
