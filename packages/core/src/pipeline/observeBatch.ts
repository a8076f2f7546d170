import type { EmbedWorkerOptions } from '../batching/EmbedWorker.js';
import type { PipelineMetrics } from '../metrics/PipelineMetrics.js';

/** An embed worker's onBatch that counts each committed batch in `metrics`. */
export function observeBatch(metrics: PipelineMetrics): NonNullable<EmbedWorkerOptions['onBatch']> {
  return (b) => {
    metrics.batchSize.observe(b.ids);
    metrics.rowsEmbedded.inc(b.written);
    metrics.rowsFailed.inc(b.failed);
    metrics.cacheHits.inc(b.cached);
    metrics.cacheMisses.inc(b.misses);
  };
}
