import OpenAI from 'openai';
import { ProviderError, ValidationError } from '../errors.js';
import { modelKeyOf, type EmbedOptions, type EmbeddingProvider, type ProviderLimits } from './EmbeddingProvider.js';

/** OpenAI's documented limit of inputs per embeddings request. */
export const OPENAI_MAX_INPUTS = 2048;

const DEFAULT_DIMENSIONS: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

export interface OpenAIProviderOptions {
  apiKey: string;
  /** Any OpenAI-compatible server. Default: the SDK's (api.openai.com). */
  baseURL?: string;
  /** Default `text-embedding-3-small`. */
  model?: string;
  /** Sent as `dimensions` when set; otherwise the model's native size. */
  dimensions?: number;
  /** May lower the 2048-input limit, never raise it. */
  maxInputs?: number;
  /** Per-request timeout in ms. Default 60000. */
  timeoutMs?: number;
}

/**
 * The official SDK with its own retries off: the batcher (BullMQ attempts
 * with backoff) owns retrying, so the two never multiply each other.
 */
export class OpenAIProvider implements EmbeddingProvider {
  readonly name = 'openai';
  readonly model: string;
  readonly dimensions: number;
  readonly limits: ProviderLimits;
  readonly modelKey: string;
  private readonly client: OpenAI;
  private readonly sendDimensions: boolean;

  constructor(opts: OpenAIProviderOptions) {
    this.model = opts.model ?? 'text-embedding-3-small';
    const native = DEFAULT_DIMENSIONS[this.model];
    const dims = opts.dimensions ?? native;
    if (dims === undefined) {
      throw new ValidationError(`model "${this.model}" has no known dimension: set KDB_EMBEDDING_DIMENSIONS`);
    }
    this.dimensions = dims;
    this.sendDimensions = opts.dimensions !== undefined;
    this.limits = { maxInputs: Math.min(opts.maxInputs ?? OPENAI_MAX_INPUTS, OPENAI_MAX_INPUTS) };
    this.modelKey = modelKeyOf(this.name, this.model, this.dimensions);
    this.client = new OpenAI({
      apiKey: opts.apiKey,
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      maxRetries: 0,
      timeout: opts.timeoutMs ?? 60_000,
    });
  }

  async embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.limits.maxInputs) {
      const chunk = texts.slice(i, i + this.limits.maxInputs);
      // One empty input makes OpenAI reject the whole request.
      const empty = chunk.findIndex((t) => t.trim() === '');
      if (empty >= 0) throw new ValidationError(`input ${i + empty} is empty: empty texts are never sent to the provider`);
      out.push(...(await this.request(chunk, opts.signal)));
    }
    return out;
  }

  private async request(input: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    try {
      const res = await this.client.embeddings.create(
        { model: this.model, input, ...(this.sendDimensions ? { dimensions: this.dimensions } : {}) },
        signal ? { signal } : {},
      );
      const vectors = new Array<Float32Array>(input.length);
      for (const d of res.data) vectors[d.index] = Float32Array.from(d.embedding);
      for (let i = 0; i < vectors.length; i++) {
        const v = vectors[i];
        if (!v || v.length !== this.dimensions) {
          throw new ProviderError(
            `provider returned ${v ? `${v.length} dimensions` : 'no vector'} for input ${i}; expected ${this.dimensions}`,
            { retryable: false },
          );
        }
      }
      return vectors;
    } catch (err) {
      throw classifyOpenAIError(err);
    }
  }
}

/** 429, 5xx, timeouts and connection errors are retryable; other 4xx are not. */
export function classifyOpenAIError(err: unknown): Error {
  if (err instanceof ProviderError) return err;
  if (err instanceof OpenAI.APIConnectionError) {
    return new ProviderError(`provider unreachable: ${err.message}`, { retryable: true, cause: err });
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status;
    const retryable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    return new ProviderError(`provider answered ${String(status)}: ${err.message}`, {
      retryable,
      ...(status === undefined ? {} : { status }),
      cause: err,
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}
