import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { PROVIDER_NAMES, type ProviderConfig, type ProviderName } from '../embedding/createProvider.js';
import type { SpaceSeed } from '../store/embeddingSpaceStore.js';
import { DEFAULTS } from './defaults.js';
import { redisEnvShape } from './redisEnv.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Environment shared by the API and the workers. Apps extend it in their own
 * `env.ts`; packages/core never reads process.env itself.
 */
export const pipelineEnvShape = {
  /** Postgres connection string. */
  KDB_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/kameleondb'),
  ...redisEnvShape,
  /** BullMQ key prefix; braces make it a Redis Cluster hash tag (required in cluster mode). */
  KDB_QUEUE_PREFIX: z.string().min(1).default(DEFAULTS.queuePrefix),
  /** fastembed (local ONNX model, the default), openai (or a compatible server), hash (offline, lexical: tests and demos). */
  KDB_EMBEDDING_PROVIDER: z.enum(PROVIDER_NAMES).default('fastembed'),
  KDB_EMBEDDING_MODEL: z.string().min(1).optional(),
  KDB_EMBEDDING_DIMENSIONS: int(1, 2000).optional(),
  /** Lowers the provider's inputs-per-request limit (never raises it). */
  KDB_EMBEDDING_MAX_INPUTS: int(1, 2048).optional(),
  KDB_PROVIDER_TIMEOUT_MS: int(100, 600_000).default(60_000),
  /** fastembed: folder of model folders (never the working directory). */
  KDB_MODEL_DIR: z.string().min(1).default(DEFAULTS.modelDir),
  /** fastembed: a folder holding `<model>/` to copy a missing model from (offline mirror). */
  KDB_MODEL_SOURCE: z.string().min(1).optional(),
  /** fastembed: tokens per input; longer texts are truncated. */
  KDB_MODEL_MAX_LENGTH: int(8, 8192).default(DEFAULTS.modelMaxLength),
  /** fastembed: onnxruntime threads per process (scale further with worker processes). */
  KDB_EMBEDDING_THREADS: int(1, 64).default(1),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.string().url().optional(),
  KDB_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** Variables whose values are never printed: keys, passwords, secrets, tokens. */
const SECRET_NAME = /(?:^|_)(?:KEY|PASSWORD|SECRET|TOKEN)$/i;
const MAX_SHOWN = 100;

/**
 * How a bad value may appear in a configuration error: never for a secret
 * variable, a URL with its password masked, a value that looks like it
 * carries credentials but cannot be parsed not at all; others bounded.
 */
function shownValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return ' (value not shown: the variable holds a secret)';
  let shown = value;
  // A list of URLs (KDB_SEARCH_DATABASE_URL) parses as one URL whose path holds the others' passwords.
  if (value.includes('://') && value.includes(',') && value.includes('@')) return ' (value not shown: it may hold credentials)';
  if (value.includes('://')) {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url?.password) {
      url.password = '***';
      shown = url.href;
    } else if (!url && value.includes('@')) {
      return ' (value not shown: it may hold credentials)';
    }
  }
  return ` (got ${JSON.stringify(shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}…` : shown)})`;
}

/**
 * Parses `env` with a zod object schema; the error lists every bad variable
 * and the rule it breaks, and shows values only where shownValue allows.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  // Treat empty strings as unset so `FOO=` in a compose file means "default".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const secrets = Object.entries(cleaned).filter(([k, v]) => SECRET_NAME.test(k) && v !== undefined && v.length >= 4).map(([, v]) => v!);
  const lines = parsed.error.issues.map((i) => {
    const name = i.path.join('.') || '(environment)';
    const got = i.path.length ? cleaned[String(i.path[0])] : undefined;
    // A rule's message could quote a value; a secret never leaves in one.
    let message = i.message;
    for (const secret of secrets) message = message.split(secret).join('***');
    return `  ${name}: ${message}${got === undefined ? '' : shownValue(String(i.path[0]), got)}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

export function providerConfigFromEnv(env: {
  KDB_EMBEDDING_PROVIDER: ProviderConfig['provider'];
  KDB_EMBEDDING_MODEL?: string | undefined;
  KDB_EMBEDDING_DIMENSIONS?: number | undefined;
  KDB_EMBEDDING_MAX_INPUTS?: number | undefined;
  KDB_PROVIDER_TIMEOUT_MS: number;
  OPENAI_API_KEY?: string | undefined;
  OPENAI_BASE_URL?: string | undefined;
  KDB_MODEL_DIR?: string | undefined;
  KDB_MODEL_SOURCE?: string | undefined;
  KDB_MODEL_MAX_LENGTH?: number | undefined;
  KDB_EMBEDDING_THREADS?: number | undefined;
}): ProviderConfig {
  return {
    provider: env.KDB_EMBEDDING_PROVIDER,
    model: env.KDB_EMBEDDING_MODEL,
    dimensions: env.KDB_EMBEDDING_DIMENSIONS,
    maxInputs: env.KDB_EMBEDDING_MAX_INPUTS,
    timeoutMs: env.KDB_PROVIDER_TIMEOUT_MS,
    openaiApiKey: env.OPENAI_API_KEY,
    openaiBaseUrl: env.OPENAI_BASE_URL,
    modelDir: env.KDB_MODEL_DIR,
    modelSource: env.KDB_MODEL_SOURCE,
    maxLength: env.KDB_MODEL_MAX_LENGTH,
    threads: env.KDB_EMBEDDING_THREADS,
  };
}

/**
 * The provider settings of an embedding space: what the space's row says
 * (provider, model, dimensions, base URL) with what only the environment
 * holds (secrets, model folders, timeouts, threads).
 */
export function providerConfigForSpace(env: Parameters<typeof providerConfigFromEnv>[0], space: SpaceSeed): ProviderConfig {
  if (!(PROVIDER_NAMES as readonly string[]).includes(space.provider)) {
    throw new ConfigError(`embedding space provider "${space.provider}" is not known to this version; allowed: ${PROVIDER_NAMES.join(', ')}`);
  }
  const base = providerConfigFromEnv(env);
  return {
    ...base,
    provider: space.provider as ProviderName,
    model: space.model,
    // A fastembed model fixes its own dimension (createProvider refuses one).
    dimensions: space.provider === 'fastembed' ? undefined : space.dimensions,
    openaiBaseUrl: space.baseUrl ?? base.openaiBaseUrl,
  };
}

/** The space the environment's provider settings describe (seeds the first space of a new database). */
export function spaceSeedOf(provider: { name: string; model: string; dimensions: number }, baseUrl?: string | undefined): SpaceSeed {
  return { provider: provider.name, model: provider.model, dimensions: provider.dimensions, baseUrl: provider.name === 'openai' ? (baseUrl ?? null) : null };
}
