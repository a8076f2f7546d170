import type { KameleonClient, LatencyQuantiles, SearchMetrics, SearchMetricsPeriod } from '@kameleondb/client';
import { table, type CommandResult } from '../output.js';

const ms = (v: number | null) => (v === null ? '-' : String(v));
const row = (name: string, q: LatencyQuantiles) => [name, q.count, ms(q.p50), ms(q.p95), ms(q.p99)];
const rate = (p: SearchMetricsPeriod) => (p.cacheHitRate === null ? '-' : `${(p.cacheHitRate * 100).toFixed(1)}%`);

function period(title: string, p: SearchMetricsPeriod): string {
  const rows = [
    row('all', p.latencyMs),
    ...Object.entries(p.byMode).map(([m, q]) => row(`mode ${m}`, q)),
    ...Object.entries(p.byRetriever).map(([r, q]) => row(`retriever ${r}`, q)),
  ];
  return [`${title}: ${p.searches} searches, ${p.cacheHits} from the result cache (hit rate ${rate(p)})`, table(['LATENCY', 'COUNT', 'P50 MS', 'P95 MS', 'P99 MS'], rows)].join('\n');
}

/** `search metrics`: the answering API process's searches, cache hit rate and latency quantiles. */
export async function searchMetrics(api: KameleonClient): Promise<CommandResult<SearchMetrics>> {
  const data = await api.searchMetrics();
  return {
    data,
    human: (m) => {
      const c = m.resultCache;
      const cache = c.enabled ? `result cache: ${c.entries} of ${c.maxEntries} answers, ${c.bytes} of ${c.maxBytes} bytes` : 'result cache: off';
      return [period(`since ${m.since}`, m.sinceStart), '', period('last 5 minutes', m.last5m), '', cache, '(one API process: each process counts its own)'].join('\n');
    },
  };
}
