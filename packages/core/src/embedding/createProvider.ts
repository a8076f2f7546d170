import { PROVIDER_NAMES } from '@kameleondb/schemas';
import { ConfigError } from '../errors.js';
import { DEFAULTS } from '../config/defaults.js';
import type { EmbeddingProvider } from './EmbeddingProvider.js';
import { HashProvider } from './HashProvider.js';
import { OpenAIProvider } from './OpenAIProvider.js';
import { FastEmbedProvider } from './FastEmbedProvider.js';

// One list of provider names, shared with the request schema of POST /v1/spaces.
export { PROVIDER_NAMES };
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface ProviderConfig {
  provider: ProviderName;
  model?: string | undefined;
  dimensions?: number | undefined;
  /** Lowers the provider's inputs-per-request limit. */
  maxInputs?: number | undefined;
  openaiApiKey?: string | undefined;
  openaiBaseUrl?: string | undefined;
  timeoutMs?: number | undefined;
  /** fastembed: folder of model folders, and an optional local source to copy from. */
  modelDir?: string | undefined;
  modelSource?: string | undefined;
  maxLength?: number | undefined;
  /** fastembed: onnxruntime threads. */
  threads?: number | undefined;
}

export function createProvider(cfg: ProviderConfig): EmbeddingProvider {
  switch (cfg.provider) {
    case 'hash':
      if (cfg.model && cfg.model !== 'feature-hash-v1') {
        throw new ConfigError(`KDB_EMBEDDING_MODEL="${cfg.model}" is not a model of the hash provider; allowed: feature-hash-v1`);
      }
      return new HashProvider({
        ...(cfg.dimensions ? { dimensions: cfg.dimensions } : {}),
        ...(cfg.maxInputs ? { maxInputs: cfg.maxInputs } : {}),
      });
    case 'fastembed':
      if (cfg.dimensions !== undefined) {
        throw new ConfigError('KDB_EMBEDDING_DIMENSIONS is fixed by the fastembed model; leave it unset (or pick another KDB_EMBEDDING_MODEL)');
      }
      return new FastEmbedProvider({
        modelDir: cfg.modelDir ?? DEFAULTS.modelDir,
        ...(cfg.model ? { model: cfg.model } : {}),
        ...(cfg.modelSource ? { source: cfg.modelSource } : {}),
        ...(cfg.maxLength ? { maxLength: cfg.maxLength } : {}),
        ...(cfg.maxInputs ? { maxInputs: cfg.maxInputs } : {}),
        ...(cfg.threads ? { threads: cfg.threads } : {}),
      });
    case 'openai':
      if (!cfg.openaiApiKey) {
        throw new ConfigError('OPENAI_API_KEY is required when KDB_EMBEDDING_PROVIDER=openai');
      }
      return new OpenAIProvider({
        apiKey: cfg.openaiApiKey,
        ...(cfg.openaiBaseUrl ? { baseURL: cfg.openaiBaseUrl } : {}),
        ...(cfg.model ? { model: cfg.model } : {}),
        ...(cfg.dimensions ? { dimensions: cfg.dimensions } : {}),
        ...(cfg.maxInputs ? { maxInputs: cfg.maxInputs } : {}),
        ...(cfg.timeoutMs ? { timeoutMs: cfg.timeoutMs } : {}),
      });
  }
}
