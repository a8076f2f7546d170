// The request schemas of the KameleonDB Pipeline API: the API validates with
// them, the typed client takes its request types from them. zod only.
export { entityInputSchema, entityPatchSchema, ENTITY_NAME_RE, type Entity, type EntityInput, type EntityPatch } from './entitySchema.js';
export { FIELD_TYPES, canonicalType, type FieldType } from './fieldTypes.js';
export { isBuiltinName, builtinNameMessage } from './isBuiltinName.js';
export { fieldNames, normalizeFields, type FieldsInput, type NormalizedFields } from './normalizeFields.js';
export { searchSchema, SEARCH_MODES, FUSIONS, NORMALIZATIONS, MAX_QUERY_LENGTH, whereValueSchema } from './searchSchema.js';
export { reindexBodySchema } from './reindexBodySchema.js';
export { runListQuerySchema } from './runListQuerySchema.js';
export { cacheDeleteQuerySchema } from './cacheDeleteQuerySchema.js';
export { waitQuerySchema } from './waitQuerySchema.js';
export { recordListQuerySchema } from './recordListQuerySchema.js';
