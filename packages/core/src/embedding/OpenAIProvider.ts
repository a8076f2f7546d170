import OpenAI from 'openai';
import { decode, encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { ProviderError, ValidationError } from '../errors.js';
import { modelKeyOf, type EmbedOptions, type EmbeddingProvider, type ProviderLimits } from './EmbeddingProvider.js';

/** OpenAI's documented limits: inputs per embeddings request, tokens per request and per input. */
export const OPENAI_MAX_INPUTS = 2048;
export const OPENAI_MAX_TOKENS_PER_REQUEST = 300_000;
export const OPENAI_MAX_TOKENS_PER_INPUT = 8192;

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
  /** An input over 8,192 tokens: `truncate` it (default) or `reject` it (that row fails). */
  overlongInput?: 'truncate' | 'reject';
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
  private readonly overlong: 'truncate' | 'reject';
  /** Inputs cut to 8,192 tokens since start. */
  truncatedInputs = 0;

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
    this.overlong = opts.overlongInput ?? 'truncate';
    this.client = new OpenAI({
      apiKey: opts.apiKey,
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      maxRetries: 0,
      timeout: opts.timeoutMs ?? 60_000,
    });
  }

  /**
   * Counts tokens with cl100k_base (the embedding models' tokenizer), cuts
   * or rejects inputs over 8,192 tokens, and packs requests up to 2,048
   * inputs and 300,000 tokens.
   */
  async embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    let batch: string[] = [];
    let tokens = 0;
    const flush = async () => {
      if (batch.length) out.push(...(await this.request(batch, opts.signal)));
      batch = [];
      tokens = 0;
    };
    for (let i = 0; i < texts.length; i++) {
      let text = texts[i]!;
      // One empty input makes OpenAI reject the whole request.
      if (text.trim() === '') throw new ValidationError(`input ${i} is empty: empty texts are never sent to the provider`);
      let ids = encode(text);
      if (ids.length > OPENAI_MAX_TOKENS_PER_INPUT) {
        if (this.overlong === 'reject') {
          throw new ProviderError(`input of ${ids.length} tokens is over the model's limit of ${OPENAI_MAX_TOKENS_PER_INPUT}`, { retryable: false, status: 400 });
        }
        ids = ids.slice(0, OPENAI_MAX_TOKENS_PER_INPUT);
        text = decode(ids);
        this.truncatedInputs += 1;
        opts.onTruncated?.(1);
      }
      if (batch.length === this.limits.maxInputs || tokens + ids.length > OPENAI_MAX_TOKENS_PER_REQUEST) await flush();
      batch.push(text);
      tokens += ids.length;
    }
    await flush();
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
      retryAfterMs: retryAfter(err.headers),
      cause: err,
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** `retry-after-ms`, else `retry-after` in seconds or as an HTTP date. */
function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const after = headers?.get('retry-after');
  if (!after) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
