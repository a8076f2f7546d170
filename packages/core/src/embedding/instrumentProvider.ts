import { ProviderError } from '../errors.js';
import type { PipelineMetrics } from '../metrics/PipelineMetrics.js';
import { withEmbed, type EmbeddingProvider } from './EmbeddingProvider.js';

function kind(err: unknown, aborted: boolean): string {
  if (aborted) return 'aborted';
  if (err instanceof ProviderError) return err.status === 429 ? 'rate_limit' : err.retryable ? 'transient' : 'permanent';
  return 'other';
}

/** The same provider, recording latency, inputs per request, truncated inputs and errors by kind. */
export function instrumentProvider(provider: EmbeddingProvider, metrics: PipelineMetrics): EmbeddingProvider {
  return withEmbed(provider, async (texts, opts) => {
    const end = metrics.providerSeconds.startTimer({ provider: provider.name });
    metrics.inputsPerRequest.observe({ provider: provider.name }, texts.length);
    try {
      return await provider.embed(texts, {
        ...opts,
        onTruncated: (n) => {
          metrics.truncatedInputs.inc({ provider: provider.name }, n);
          opts?.onTruncated?.(n);
        },
      });
    } catch (err) {
      metrics.providerErrors.inc({ provider: provider.name, kind: kind(err, opts?.signal?.aborted ?? false) });
      throw err;
    } finally {
      end();
    }
  });
}
