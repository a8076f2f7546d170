import { z } from 'zod';
import { BLOCKS_MIN_DOCS, checkRedisEnv, DEFAULT_RESULT_CACHE_ENTRIES, DEFAULTS, MAX_REQUEST_RECORDS, parseEnv, pipelineEnvShape } from '@kameleondb/core';
import { sizeInBytes } from './sizeInBytes.js';
import { searchDatabaseUrls, replicaMaxLag } from './replicaEnv.js';

const schema = z
  .object({
    ...pipelineEnvShape,
    /** HTTP port. */
    KDB_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    /** Bearer token for /v1. Required unless KDB_AUTH=disabled. */
    KDB_API_KEY: z
      .string()
      .min(16, 'must be at least 16 characters')
      // Surrounding whitespace is trimmed from presented keys, so a key that is mostly blank can never match.
      .refine((k) => k.trim().length >= 16, 'must have at least 16 characters that are not whitespace')
      .optional(),
    /** `disabled` turns authentication off; it must be said explicitly. */
    KDB_AUTH: z.enum(['enabled', 'disabled']).default('enabled'),
    /** Largest request body (JSON or NDJSON), in bytes or with a unit (`256mb`). */
    KDB_MAX_BODY: z.string().regex(/^\d+(b|kb|mb|gb)?$/i, 'a size like 262144 or 256mb').default('512mb'),
    /** Most records one ingest or batch update request may carry (a larger one is 413, nothing written). */
    KDB_MAX_RECORDS_PER_REQUEST: z.coerce.number().int().min(1).max(100_000_000).default(MAX_REQUEST_RECORDS),
    /** `off`: every ingested row waits for an embed job, even when its text is cached (the ingest transaction then writes no vectors). */
    KDB_INGEST_CACHED_VECTORS: z.enum(['on', 'off']).default('on'),
    /** Ingest chunks of at least this many records write their keyword postings as blocks, smaller ones as rows. */
    KDB_POSTINGS_BLOCKS_MIN_RECORDS: z.coerce.number().int().min(1).max(1_000_000_000).default(BLOCKS_MIN_DOCS),
    /** Ids per embed job. */
    KDB_JOB_SIZE: z.coerce.number().int().min(1).max(100_000).default(DEFAULTS.jobSize),
    /** How long `?wait=true` waits before answering with what is still pending, in ms. */
    KDB_WAIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(600_000),
    /** Bull Board at /admin/queues without retry/remove/clean/add buttons; `false` to allow them. */
    KDB_DASHBOARD_READ_ONLY: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
    /** HNSW candidate list size for vector search (recall vs latency): `auto` grows it with the largest segment (efSearchFor), a number fixes it; a search asking more rows raises it for itself. */
    KDB_EF_SEARCH: z
      .string()
      .refine((v) => v === 'auto' || (/^\d{1,4}$/.test(v) && Number(v) >= 1 && Number(v) <= 1000), 'must be auto or a whole number 1-1000')
      .default('auto')
      .transform((v): number | 'auto' => (v === 'auto' ? 'auto' : Number(v))),
    /** Postgres connections of the API process. */
    KDB_PG_POOL_SIZE: z.coerce.number().int().min(2).max(200).default(16),
    /** Price in USD per million tokens for dry-run cost estimates (overrides the built-in table). */
    KDB_PRICE_PER_MILLION_TOKENS: z.coerce.number().min(0).optional(),
    /** Search answers the in-process result cache keeps at most; 0 turns the cache off. */
    KDB_RESULT_CACHE_ENTRIES: z.coerce.number().int().min(0).max(1_000_000).default(DEFAULT_RESULT_CACHE_ENTRIES),
    /** Bytes (the answers' JSON) the result cache keeps at most, as a number or with a unit (`64mb`); an answer larger than this is not kept. */
    KDB_RESULT_CACHE_BYTES: z
      .string()
      .regex(/^\d+(b|kb|mb|gb)?$/i, 'a size like 67108864 or 64mb')
      .default('64mb')
      .transform((v) => sizeInBytes(v))
      .refine((n) => n >= 1024 && n <= 64 * 1024 ** 3, 'must be 1kb to 64gb'),
    /** Records per transaction of an analyzer rebuild (a change of an entity's analyzer). */
    KDB_ANALYZER_BATCH: z.coerce.number().int().min(1).max(100_000).default(1000),
    /** Streaming replicas of KDB_DATABASE_URL that serve search statements, comma-separated (at most 16). Unset: search on the primary. */
    KDB_SEARCH_DATABASE_URL: searchDatabaseUrls.optional(),
    /** How long a search with `after` (KDB-After-LSN) waits for a replica to replay it before the primary serves it, in ms. */
    KDB_REPLICA_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
    /** Lag (30s, 2m) past which a replica leaves rotation until it catches up; reported, never a failure. */
    KDB_REPLICA_MAX_LAG: replicaMaxLag.default(30),
    /** Time in-flight requests get after SIGTERM, in ms. */
    KDB_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(25_000),
  })
  .superRefine((e, ctx) => {
    checkRedisEnv(e, ctx);
    if (e.KDB_AUTH === 'enabled' && !e.KDB_API_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['KDB_API_KEY'],
        message: 'is required: set an API key of 16+ characters, or set KDB_AUTH=disabled to run without authentication',
      });
    }
  });

export type ApiEnv = z.infer<typeof schema>;

export function readEnv(env: Record<string, string | undefined> = process.env): ApiEnv {
  return parseEnv(schema, env);
}
