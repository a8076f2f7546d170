export { KameleonClient, type KameleonClientOptions, type CallOptions, type InsertOptions } from './KameleonClient.js';
export { KameleonApiError } from './KameleonApiError.js';
export type * from './apiTypes.js';
