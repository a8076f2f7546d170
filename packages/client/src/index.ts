export { KameleonClient, type KameleonClientOptions, type CallOptions, type InsertOptions } from './KameleonClient.js';
export { KameleonApiError } from './KameleonApiError.js';
export type * from './apiTypes.js';
// The values a space request may name, for callers that validate before sending (the CLI's choices).
export { PROVIDER_NAMES, ACTIVATE_MODES } from '@kameleondb/schemas';
