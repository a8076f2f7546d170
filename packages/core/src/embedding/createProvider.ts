import { ConfigError } from '../errors.js';
import type { EmbeddingProvider } from './EmbeddingProvider.js';
import { HashProvider } from './HashProvider.js';
import { OpenAIProvider } from './OpenAIProvider.js';

export const PROVIDER_NAMES = ['hash', 'openai'] as const;
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
