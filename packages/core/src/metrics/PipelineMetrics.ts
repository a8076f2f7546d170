import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';
import type { ReplicaStatus } from '../search/ReplicaRouter.js';

/**
 * The Prometheus metrics of one process (API or worker), in a registry of
 * its own. Queue depths are read from Redis when scraped.
 */
export class PipelineMetrics {
  readonly registry = new Registry();
  readonly batchSize = new Histogram({
    name: 'kdb_embed_batch_ids',
    help: 'Record ids per coalesced embed batch',
    buckets: [1, 8, 32, 128, 256, 512, 1024, 2048, 4096],
    registers: [this.registry],
  });
  readonly inputsPerRequest = new Histogram({
    name: 'kdb_provider_inputs_per_request',
    help: 'Texts per embedding provider request',
    labelNames: ['provider'],
    buckets: [1, 8, 32, 128, 256, 512, 1024, 2048],
    registers: [this.registry],
  });
  readonly providerSeconds = new Histogram({
    name: 'kdb_provider_request_seconds',
    help: 'Embedding provider request latency',
    labelNames: ['provider'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly providerErrors = new Counter({
    name: 'kdb_provider_errors_total',
    help: 'Embedding provider errors by kind (rate_limit, transient, permanent, aborted)',
    labelNames: ['provider', 'kind'],
    registers: [this.registry],
  });
  readonly truncatedInputs = new Counter({
    name: 'kdb_provider_truncated_inputs_total',
    help: "Inputs cut to the model's token limit before embedding",
    labelNames: ['provider'],
    registers: [this.registry],
  });
  readonly cacheHits = new Counter({ name: 'kdb_cache_hits_total', help: 'Distinct texts found in the embedding cache', registers: [this.registry] });
  readonly cacheMisses = new Counter({ name: 'kdb_cache_misses_total', help: 'Distinct texts not found in the embedding cache', registers: [this.registry] });
  readonly rowsEmbedded = new Counter({ name: 'kdb_rows_embedded_total', help: 'Search rows that received a vector', registers: [this.registry] });
  readonly rowsFailed = new Counter({ name: 'kdb_rows_failed_total', help: 'Search rows marked failed', registers: [this.registry] });
  readonly swept = new Counter({ name: 'kdb_sweeper_requeued_total', help: 'Pending rows re-enqueued by the sweeper', registers: [this.registry] });
  readonly segmentBuilds = new Histogram({
    name: 'kdb_vector_segment_build_seconds',
    help: 'HNSW builds of vector segments (seal: hot rows; merge: neighbouring segments)',
    labelNames: ['kind'],
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600],
    registers: [this.registry],
  });
  readonly searchSeconds = new Histogram({
    name: 'kdb_search_seconds',
    help: 'Search latency inside the API, by mode',
    labelNames: ['mode'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly searchRetrieverSeconds = new Histogram({
    name: 'kdb_search_retriever_seconds',
    help: 'Time of each retriever inside a search that ran one (the vector retriever with its query embedding)',
    labelNames: ['retriever'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly resultCacheHits = new Counter({ name: 'kdb_result_cache_hits_total', help: 'Searches answered from the result cache', registers: [this.registry] });
  readonly resultCacheMisses = new Counter({ name: 'kdb_result_cache_misses_total', help: 'Cacheable searches that ran (not kept, or kept but out of date)', registers: [this.registry] });
  readonly resultCacheEvictions = new Counter({ name: 'kdb_result_cache_evictions_total', help: 'Answers dropped from the result cache to stay within its entry or byte bound', registers: [this.registry] });
  readonly resultCacheInvalidations = new Counter({
    name: 'kdb_result_cache_invalidations_total',
    help: 'Kept answers found out of date (a write to one of their entities committed since)',
    registers: [this.registry],
  });

  /** Counts one result cache event. */
  resultCacheEvent(event: 'hit' | 'miss' | 'eviction' | 'invalidation'): void {
    ({ hit: this.resultCacheHits, miss: this.resultCacheMisses, eviction: this.resultCacheEvictions, invalidation: this.resultCacheInvalidations })[event].inc();
  }

  /** Observes one answered search (the same observations as GET /v1/search/metrics). */
  observeSearch(o: { mode: string; ms: number; keywordMs?: number | undefined; vectorMs?: number | undefined }): void {
    this.searchSeconds.observe({ mode: o.mode }, o.ms / 1000);
    if (o.keywordMs !== undefined) this.searchRetrieverSeconds.observe({ retriever: 'keyword' }, o.keywordMs / 1000);
    if (o.vectorMs !== undefined) this.searchRetrieverSeconds.observe({ retriever: 'vector' }, o.vectorMs / 1000);
  }

  readonly searchServed = new Counter({
    name: 'kdb_search_served_total',
    help: 'Searches by the server that ran their statements (primary or a replica)',
    labelNames: ['server'],
    registers: [this.registry],
  });

  constructor(opts: {
    process: 'api' | 'worker';
    resultCacheSize?: () => { entries: number; bytes: number };
    queues?: Queue[];
    activeRuns?: () => Promise<{ id: string; total: number; processed: number }[]>;
    /** The search replicas' last check (the API's router). */
    replicas?: () => ReplicaStatus[];
  }) {
    this.registry.setDefaultLabels({ process: opts.process });
    collectDefaultMetrics({ register: this.registry, prefix: 'kdb_process_' });
    const queues = opts.queues ?? [];
    new Gauge({
      name: 'kdb_queue_jobs',
      help: 'Jobs per queue and state (read from Redis at scrape time)',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        for (const q of queues) {
          const counts = await q.getJobCounts('waiting', 'active', 'prioritized', 'delayed', 'completed', 'failed');
          for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
        }
      },
    });
    const cacheSize = opts.resultCacheSize;
    if (cacheSize) {
      new Gauge({
        name: 'kdb_result_cache_entries',
        help: 'Answers in the result cache',
        registers: [this.registry],
        collect() {
          this.set(cacheSize().entries);
        },
      });
      new Gauge({
        name: 'kdb_result_cache_bytes',
        help: 'Bytes of the answers in the result cache (their JSON size)',
        registers: [this.registry],
        collect() {
          this.set(cacheSize().bytes);
        },
      });
    }
    const replicas = opts.replicas;
    if (replicas) {
      const each = (name: string, help: string, value: (r: ReplicaStatus) => number | null) =>
        new Gauge({
          name,
          help,
          labelNames: ['replica'],
          registers: [this.registry],
          collect() {
            this.reset();
            for (const r of replicas()) {
              const v = value(r);
              if (v !== null) this.set({ replica: r.name }, v);
            }
          },
        });
      each('kdb_replica_lag_bytes', "Bytes of the primary's WAL a search replica has not replayed (last check)", (r) => r.lagBytes);
      each('kdb_replica_lag_seconds', 'Seconds a search replica is behind the primary (last check)', (r) => r.lagSeconds);
      each('kdb_replica_in_rotation', '1 while a search replica takes searches; 0 when it is out (unreachable, not a standby, or past KDB_REPLICA_MAX_LAG)', (r) => (r.inRotation ? 1 : 0));
    }
    const activeRuns = opts.activeRuns;
    if (activeRuns) {
      new Gauge({
        name: 'kdb_reindex_rows',
        help: 'Rows of active reindex runs: total and processed',
        labelNames: ['run', 'kind'],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const r of await activeRuns()) {
            this.set({ run: r.id, kind: 'total' }, r.total);
            this.set({ run: r.id, kind: 'processed' }, r.processed);
          }
        },
      });
    }
  }
}
