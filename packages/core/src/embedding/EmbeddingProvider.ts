export interface ProviderLimits {
  /** Most inputs one request may carry (OpenAI: 2048). */
  maxInputs: number;
}

export interface EmbedOptions {
  /** Aborts an in-flight request (cancellation, shutdown). */
  signal?: AbortSignal;
  /** Told how many inputs of the call were cut to the model's token limit (for metrics). */
  onTruncated?: (inputs: number) => void;
}

/** One embedding backend. `embed` returns one unit vector per input, in order. */
export interface EmbeddingProvider {
  readonly name: string;
  readonly model: string;
  readonly dimensions: number;
  readonly limits: ProviderLimits;
  /** `provider:model:dimensions`: stamps rows and keys the cache. */
  readonly modelKey: string;
  embed(texts: readonly string[], opts?: EmbedOptions): Promise<Float32Array[]>;
  /** Loads what the provider needs (a local model); call before taking work to fail fast. */
  init?(): Promise<void>;
}

export function modelKeyOf(name: string, model: string, dimensions: number): string {
  return `${name}:${model}:${dimensions}`;
}

/** The same provider with another `embed` (decorators: metrics, shared backoff). */
export function withEmbed(provider: EmbeddingProvider, embed: EmbeddingProvider['embed']): EmbeddingProvider {
  return {
    name: provider.name,
    model: provider.model,
    dimensions: provider.dimensions,
    limits: provider.limits,
    modelKey: provider.modelKey,
    embed,
    ...(provider.init ? { init: () => provider.init!() } : {}),
  };
}
