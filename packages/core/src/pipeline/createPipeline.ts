import { Queue } from 'bullmq';
import type { RedisClient } from '../redis/createRedis.js';
import type pg from 'pg';
import { CacheStats } from '../cache/CacheStats.js';
import { cacheSummary, clearCache, type CacheSummary } from '../cache/cacheAdmin.js';
import { DEFAULTS } from '../config/defaults.js';
import { ConflictError } from '../errors.js';
import type { EmbeddingProvider } from '../embedding/EmbeddingProvider.js';
import type { AnalyzerRun, Entity, EntityInput, EntityPatch } from '@kameleondb/schemas';
import { BackgroundTasks } from '../util/BackgroundTasks.js';
import { ingestRecords, type IngestResult } from '../ingest/ingestRecords.js';
import { patchRecords, type PatchRecordsResult } from '../ingest/patchRecords.js';
import type { SourcedValue } from '../ingest/readNdjson.js';
import { waitForEmbedded } from '../ingest/waitForEmbedded.js';
import { createEmbedQueue, enqueueEmbed, type EmbedJobData } from '../jobs/embedQueue.js';
import { createReindexQueue, type ReindexJobData } from '../jobs/reindexQueue.js';
import { MAINTENANCE_QUEUE } from '../jobs/startMaintenance.js';
import { checkReadiness, type Readiness } from '../metrics/checkReadiness.js';
import { dryRunReindex, type DryRunReport } from '../reindex/dryRunReindex.js';
import { ReindexRunStore, type ReindexRun } from '../reindex/ReindexRunStore.js';
import { getRun, startReindex, startReindexIn } from '../reindex/startReindex.js';
import { SearchEngine, type SearchAnswer, type SearchParams } from '../search/SearchEngine.js';
import { ResultCache, type ResultCacheOptions } from '../search/ResultCache.js';
import type { SearchObservation } from '../search/SearchObservation.js';
import { SearchMetrics, type SearchMetricsReport } from '../metrics/SearchMetrics.js';
import { ReplicaRouter, type ReplicaStatus } from '../search/ReplicaRouter.js';
import { walInsertLsn } from '../store/walPosition.js';
import { withTimeout } from '../util/withTimeout.js';
import { vectorIndexStatus, type VectorIndexStatus } from '../segments/vectorSegmentStore.js';
import { createEntity, getEntity, listEntities, updateEntity, updateEntityIn, type EntityUpdate } from '../store/entityStore.js';
import { getAnalyzerRun, listAnalyzerRuns, publicRun, requestAnalyzerRunCancel } from '../store/analyzerRunStore.js';
import { countRecords, deleteRecord, deleteRecords, getRecord, listRecords, patchRecord, recomputeEntityContent, resolveRecordId, type StoredRecord } from '../store/recordStore.js';
import { embeddingStatusByEntity, spaceCoverage, type EntityEmbeddingStatus, type StatusCounts } from '../store/searchRowStore.js';
import { SpaceProviders } from '../spaces/SpaceProviders.js';
import { activateSpace, createSpace, dropSpace, dryRunSpace, type NewSpace } from '../spaces/spaceAdmin.js';
import type { SpaceSeed } from '../store/embeddingSpaceStore.js';
import type { EmbeddingSpace } from '../store/embeddingSpaceStore.js';

export interface PipelineOptions {
  pool: pg.Pool;
  /** A BullMQ-ready connection (createRedis); the queues share it, and close() leaves it open for its owner. */
  redis: RedisClient;
  /** The provider this process was configured with (KDB_EMBEDDING_*); the provider of the default `spaces`. */
  provider: EmbeddingProvider;
  /** The embedding spaces and a provider per space (search embeds queries with the active one's). Default: `provider` alone. */
  spaces?: SpaceProviders;
  /** BullMQ key prefix of every queue and run key. Default DEFAULTS.queuePrefix (`{kdb}`). */
  prefix?: string;
  /** Ids per embed job of an ingest. Default DEFAULTS.jobSize (2048). */
  jobSize?: number;
  /** Cached texts get their vectors in the ingest transaction (IngestOptions.cachedVectors). Default true. */
  ingestCachedVectors?: boolean;
  /** Ingest chunks of at least this many records write their postings as blocks (IngestOptions.blocksMinDocs). Default BLOCKS_MIN_DOCS (256). */
  blocksMinDocs?: number;
  /** Most records one ingest or batch update may carry. Default MAX_REQUEST_RECORDS (1,000,000). */
  maxRecordsPerRequest?: number;
  /** `hnsw.ef_search` of vector search: a number (the pool's sessions use SearchEngine.sessionSql of it) or `auto` (efSearchFor the largest segment searched). Default `auto`. */
  efSearch?: number | 'auto';
  /** Price in USD per million tokens of dry-run estimates. Default: the built-in table. */
  pricePerMillionTokens?: number | undefined;
  /** Keeps fused search answers in process, never stale (ResultCache: its bounds and event hook). Default none: every search runs. */
  resultCache?: Omit<ResultCacheOptions, 'pool'> | undefined;
  /** Told of every answered search, besides search.metrics(). Default none. */
  observeSearch?: ((o: SearchObservation) => void) | undefined;
  /** Called after a change of analyzer committed a new run (to start driving it at once). */
  onAnalyzerRun?: () => void;
  /**
   * Streaming replicas of `pool` that serve search statements (KDB_SEARCH_DATABASE_URL),
   * each pool's sessions running SearchEngine.sessionSql; the pools stay with their owner.
   * Default none: search runs on `pool`.
   */
  replicas?: readonly { name: string; pool: pg.Pool }[];
  /** How long a search with `after` waits for a replica to replay it, in ms (KDB_REPLICA_WAIT_MS). Default 1000. */
  replicaWaitMs?: number | undefined;
  /** Lag in seconds past which a replica leaves rotation (KDB_REPLICA_MAX_LAG). Default 30. */
  replicaMaxLagSeconds?: number | undefined;
}

/** The result cache of this process: whether it is on, what it holds and its bounds. */
export interface ResultCacheStatus {
  enabled: boolean;
  entries: number;
  bytes: number;
  maxEntries: number;
  maxBytes: number;
}

export interface RecordsIngest {
  /** The entity, or its name (then read first: a missing one is a NotFoundError before any record is read). */
  entity: string | Entity;
  records: Iterable<SourcedValue> | AsyncIterable<SourcedValue>;
  idempotencyKey?: string | undefined;
}

/** An entity as `GET /v1/entities/:name` shows it. */
export type EntityDescription = Entity & {
  /** Records the entity holds. */
  records: number;
  embedding: Omit<EntityEmbeddingStatus, 'entity'>;
};

/** The core as the apps use it: each call one domain step, the apps only mapping HTTP and CLI to them. */
export interface Pipeline {
  entities: {
    create(input: EntityInput): Promise<Entity>;
    list(): Promise<Entity[]>;
    get(name: string): Promise<Entity>;
    /** The entity with its record count and its embedding counts for the provider's model. */
    describe(name: string): Promise<EntityDescription>;
    /**
     * Adds, renames or drops fields, or changes embedFields. A change of
     * embedFields, or a rename or drop of an embedded field, checks for a
     * live run, updates the entity (and records, texts and postings) and
     * creates the run in one transaction: a 409 leaves all as it was.
     */
    /** `analyzerRun`: the rebuild of the postings a change of analyzer started (searches keep the old analyzer until it switches). */
    update(name: string, patch: EntityPatch): Promise<Entity & { reindex: ReindexRun | null; analyzerRun: AnalyzerRun | null }>;
  };
  /** Rebuilds of an entity's postings for a new analyzer (driven by a PostingsRebuilder in the API processes). */
  analyzerRuns: {
    get(id: string): Promise<AnalyzerRun>;
    list(entity?: string): Promise<AnalyzerRun[]>;
    /** Asks a running rebuild to stop: its new postings are dropped, the old analyzer stays. */
    cancel(id: string): Promise<AnalyzerRun>;
  };
  records: {
    ingest(o: RecordsIngest): Promise<IngestResult>;
    /** Waits until none of `ids` is pending, up to `timeoutMs` or the abort of `signal`. */
    waitForEmbedded(ids: readonly string[], o: { timeoutMs: number; signal?: AbortSignal }): Promise<StatusCounts>;
    /** `id`, here and in patch and delete: a whole id or a unique prefix of one (resolveRecordIds). */
    get(entity: string, id: string): Promise<StoredRecord>;
    /** One page in id order, after the cursor `after` (the previous page's last id). */
    list(entity: string, o: { limit: number; after?: string | undefined }): Promise<StoredRecord[]>;
    /** Merges fields; a changed text is enqueued after the commit, and a failed enqueue leaves it to the sweeper (`enqueueError`). */
    patch(entity: string, id: string, patch: Record<string, unknown>): Promise<{ record: StoredRecord; reembed: boolean; enqueueError: string | null }>;
    /** A batch update (`{id, ...fields}` items), validated all-or-nothing and written in one transaction; jobs after the commit. */
    patchMany(entity: string | Entity, records: Iterable<SourcedValue> | AsyncIterable<SourcedValue>): Promise<PatchRecordsResult>;
    delete(entity: string, id: string): Promise<void>;
    /** Deletes every record `ids` names (ids or unique prefixes, 1..10,000) in one transaction, or none (404 naming the unknown ones). */
    deleteMany(entity: string, ids: readonly string[]): Promise<string[]>;
    /** Per-entity counts by status for the provider's model. */
    statusByEntity(): Promise<EntityEmbeddingStatus[]>;
  };
  reindex: {
    start(o: { entity: string | null; force: boolean }): Promise<ReindexRun>;
    dryRun(o: { entity: string | null; force: boolean }): Promise<DryRunReport>;
    list(limit?: number): Promise<ReindexRun[]>;
    get(id: string): Promise<ReindexRun>;
    cancel(id: string): Promise<ReindexRun | null>;
    /** Live runs; throws when Redis does not answer within its bound. */
    active(): Promise<ReindexRun[]>;
    /** Deletes finished runs that ended more than `olderThanMs` ago (never live ones); returns how many. */
    clean(o: { olderThanMs: number }): Promise<number>;
  };
  cache: {
    summary(): Promise<CacheSummary & { hits: number; misses: number; hitRate: number | null; statsSince: string | null }>;
    clear(o: { olderThanMs?: number; modelKey?: string }): Promise<number>;
  };
  search: {
    search(params: SearchParams): Promise<SearchAnswer>;
    /** Searches, cache hit rate and latency quantiles of this process, and the result cache's size. */
    metrics(): SearchMetricsReport & { resultCache: ResultCacheStatus };
    /** The active space's vector index. */
    vectorIndex(): Promise<VectorIndexStatus>;
  };
  spaces: {
    /** Every space with its rows embedded / total and its build run. */
    list(): Promise<SpaceView[]>;
    /** The active space (read fresh), or null before one is seeded. */
    active(): Promise<EmbeddingSpace | null>;
    /** Spaces (active or building) whose provider this process cannot build, and why. */
    problems(): Promise<{ space: string; error: string }[]>;
    /** A new space being built (its build run embeds every row), or a build of it resumed. */
    create(input: NewSpace): Promise<{ space: EmbeddingSpace; run: ReindexRun }>;
    /** What building a space would cost, changing nothing. */
    dryRun(seed: SpaceSeed): Promise<DryRunReport & { space: string; exists: boolean }>;
    /** Switches search to a space (a retired one, or a built one of activate=manual). */
    activate(key: string): Promise<EmbeddingSpace>;
    /** Drops a space that is not the active one. */
    drop(key: string): Promise<{ dropped: string }>;
  };
  /** Postgres, Redis and migrations answer; the replicas' rotation is reported, never fails it. */
  ready(): Promise<Readiness & { replicas?: ReplicaStatus[] }>;
  /** The primary's WAL position now: read after a write's commit, a search with it as `after` sees the write. */
  commitLsn(): Promise<string>;
  /** The search replicas as the router's last check saw them (none configured: empty). */
  replicas(): ReplicaStatus[];
  provider: EmbeddingProvider;
  /** The run store (workers and metrics read live runs from it). */
  runs: ReindexRunStore;
  /** The queues, for the dashboard and queue metrics. */
  queues: { embed: Queue<EmbedJobData>; reindex: Queue<ReindexJobData>; maintenance: Queue };
  /** Closes the queues and flushes the query-vector cache; the pool and the Redis connection stay with their owner. */
  close(): Promise<void>;
}

/** A space as GET /v1/spaces shows it. */
export interface SpaceView extends EmbeddingSpace {
  /** Rows holding a vector of their current text in this space (or a settled empty text). */
  embedded: number;
  total: number;
  buildRun: ReindexRun | null;
}

export function createPipeline(o: PipelineOptions): Pipeline {
  const { pool, redis, provider } = o;
  const spaces = o.spaces ?? SpaceProviders.single(pool, provider);
  const buildingSpaces = async () => (await spaces.spaces()).filter((s) => s.state === 'building').map((s) => s.modelKey);
  const prefix = o.prefix ?? DEFAULTS.queuePrefix;
  // The connection is given, so the URL is never used to connect.
  const embed = createEmbedQueue({ prefix, connection: redis });
  const reindexQueue = createReindexQueue({ prefix, connection: redis });
  const maintenance = new Queue(MAINTENANCE_QUEUE, { connection: redis, prefix });
  const runs = new ReindexRunStore(redis, pool, prefix);
  const cacheStats = new CacheStats(redis, prefix);
  const background = new BackgroundTasks();
  const admin = { pool, runs, reindexQueue, spaces, pricePerMillionTokens: o.pricePerMillionTokens };
  const resultCache = o.resultCache ? new ResultCache<SearchAnswer>({ pool, ...o.resultCache }) : undefined;
  const searchMetrics = new SearchMetrics();
  const router = new ReplicaRouter({ primary: pool, replicas: o.replicas ?? [], waitMs: o.replicaWaitMs, maxLagSeconds: o.replicaMaxLagSeconds });
  const engine = new SearchEngine({
    pool,
    spaces,
    router,
    ...(o.efSearch !== undefined ? { efSearch: o.efSearch } : {}),
    resultCache,
    observe: (obs) => {
      searchMetrics.record(obs);
      o.observeSearch?.(obs);
    },
  });

  /** The entity PATCH; `seen` gets the update (with the analyzer run it started) before the commit. */
  const updateIn = async (name: string, patch: EntityPatch, seen: (u: EntityUpdate) => void): Promise<Entity & { reindex: ReindexRun | null }> => {
    // Adding fields or changing the analyzer alone needs no reindex run (nor Redis): it works while Redis is away.
    if (!patch.embedFields && !patch.renameFields && !patch.dropFields) {
      const u = await updateEntity(pool, name, patch);
      seen(u);
      return { ...u.entity, reindex: null };
    }
    // One transaction under the run-creation lock: the entity, its records' data, their texts and postings, the runs. A crash or an error before the commit leaves all as it was.
    return runs.inCreation(async (tx) => {
      const refuseIfBusy = async () => {
        const active = await tx.conflict(name);
        if (active) {
          throw new ConflictError(
            `a reindex run is active for ${active.entity === null ? 'all entities' : `entity "${active.entity}"`} (${active.id}); cancel it or wait before changing embedFields or renaming or dropping embedded fields`,
            { activeRunId: active.id, activeEntity: active.entity },
          );
        }
      };
      if (patch.embedFields) await refuseIfBusy();
      const u = await updateEntityIn(tx.client, name, patch);
      seen(u);
      const { entity, embedFieldsChanged, embedTextChanged } = u;
      if (embedTextChanged) {
        if (!patch.embedFields) await refuseIfBusy();
        // Texts hold field names: they are recomputed now, so search sees the new text from the commit on; the run embeds them.
        await recomputeEntityContent(tx.client, entity);
        return { ...entity, reindex: await startReindexIn(tx, { runs, reindexQueue }, { entity: entity.name, force: false }) };
      }
      const reindex = embedFieldsChanged ? await startReindexIn(tx, { runs, reindexQueue }, { entity: entity.name, force: false, recompute: true }) : null;
      return { ...entity, reindex };
    });
  };

  return {
    entities: {
      create: (input) => createEntity(pool, input),
      list: () => listEntities(pool),
      get: (name) => getEntity(pool, name),
      async describe(name) {
        const entity = await getEntity(pool, name);
        const [records, statuses] = await Promise.all([countRecords(pool, entity.name), embeddingStatusByEntity(pool, await spaces.activeNow())]);
        const { entity: _name, ...embedding } = statuses.find((s) => s.entity === entity.name) ?? { entity: entity.name, total: 0, indexed: 0, pending: 0, failed: 0, stale: 0 };
        return { ...entity, records, embedding };
      },
      async update(name, patch) {
        let started: EntityUpdate['analyzerRun'];
        const answer = await updateIn(name, patch, (u) => (started = u.analyzerRun));
        if (started) o.onAnalyzerRun?.();
        return { ...answer, analyzerRun: started ? publicRun(started) : null };
      },
    },
    analyzerRuns: {
      get: async (id) => publicRun(await getAnalyzerRun(pool, id)),
      list: async (entity) => (await listAnalyzerRuns(pool, entity)).map(publicRun),
      async cancel(id) {
        const run = publicRun(await requestAnalyzerRunCancel(pool, id));
        o.onAnalyzerRun?.();
        return run;
      },
    },
    records: {
      async ingest(i) {
        const entity = typeof i.entity === 'string' ? await getEntity(pool, i.entity) : i.entity;
        return ingestRecords({
          pool,
          queue: embed,
          buildingSpaces: await buildingSpaces(),
          entity,
          records: i.records,
          jobSize: o.jobSize ?? DEFAULTS.jobSize,
          maxRecords: o.maxRecordsPerRequest,
          idempotencyKey: i.idempotencyKey,
          cachedVectors: o.ingestCachedVectors ?? true,
          ...(o.blocksMinDocs !== undefined ? { blocksMinDocs: o.blocksMinDocs } : {}),
          cacheStats,
          background,
        });
      },
      waitForEmbedded: (ids, w) => waitForEmbedded(pool, ids, w),
      get: async (entity, id) => getRecord(pool, entity, await resolveRecordId(pool, entity, id)),
      list: (entity, l) => listRecords(pool, entity, l),
      async patch(entityName, id, patch) {
        const entity = await getEntity(pool, entityName);
        const { record, reembed } = await patchRecord(pool, entity, await resolveRecordId(pool, entity.name, id), patch);
        // The change is committed and the row pending: a failed enqueue leaves it to the sweeper, as an ingest does.
        const enqueueError = reembed
          ? await enqueueEmbed(embed, [record.id], { chunkSize: 1, buildingSpaces: await buildingSpaces() }).then(
              () => null,
              (err: Error) => err.message,
            )
          : null;
        return { record, reembed, enqueueError };
      },
      async patchMany(e, items) {
        const entity = typeof e === 'string' ? await getEntity(pool, e) : e;
        return patchRecords({ pool, queue: embed, buildingSpaces: await buildingSpaces(), entity, records: items, jobSize: o.jobSize ?? DEFAULTS.jobSize, maxRecords: o.maxRecordsPerRequest });
      },
      delete: async (entity, id) => deleteRecord(pool, entity, await resolveRecordId(pool, entity, id)),
      async deleteMany(entityName, ids) {
        const entity = await getEntity(pool, entityName);
        return deleteRecords(pool, entity.name, ids);
      },
      statusByEntity: async () => embeddingStatusByEntity(pool, await spaces.activeNow()),
    },
    reindex: {
      start: (s) => startReindex({ pool, runs, reindexQueue }, s),
      async dryRun(d) {
        if (d.entity) await getEntity(pool, d.entity);
        const active = await spaces.active();
        return dryRunReindex(pool, active.provider, active.space, { ...d, pricePerMillionTokens: o.pricePerMillionTokens });
      },
      list: (limit) => runs.list(limit),
      get: (id) => getRun(runs, id),
      async cancel(id) {
        await getRun(runs, id);
        return runs.finish(id, 'cancelled');
      },
      active: () => runs.active(),
      clean: (c) => runs.clean(c.olderThanMs),
    },
    cache: {
      async summary() {
        const [summary, stats] = await Promise.all([cacheSummary(pool), cacheStats.read()]);
        return { ...summary, hits: stats.hits, misses: stats.misses, hitRate: stats.hitRate, statsSince: stats.since };
      },
      clear: (c) => clearCache(pool, c),
    },
    search: {
      search: (params) => engine.search(params),
      metrics: () => ({
        ...searchMetrics.report(),
        resultCache: resultCache
          ? { enabled: true, ...resultCache.size, maxEntries: resultCache.maxEntries, maxBytes: resultCache.maxBytes }
          : { enabled: false, entries: 0, bytes: 0, maxEntries: 0, maxBytes: 0 },
      }),
      async vectorIndex() {
        const active = await spaces.space(null);
        return vectorIndexStatus(pool, active.id);
      },
    },
    spaces: {
      async list() {
        const all = await spaces.spaces(true);
        return Promise.all(
          all.map(async (s) => {
            const [coverage, buildRun] = await Promise.all([spaceCoverage(pool, s.id), s.buildRunId ? runs.get(s.buildRunId) : Promise.resolve(null)]);
            return { ...s, ...coverage, buildRun };
          }),
        );
      },
      active: () => spaces.activeNow(),
      problems: () => spaces.problems(),
      create: (input) => createSpace(admin, input),
      dryRun: (seed) => dryRunSpace(admin, seed),
      activate: (key) => activateSpace(admin, key),
      drop: (key) => dropSpace(admin, key),
    },
    async ready() {
      const r = await checkReadiness(pool, redis, { spaces: () => spaces.problems() });
      return router.hasReplicas ? { ...r, replicas: router.statuses() } : r;
    },
    commitLsn: () => withTimeout(walInsertLsn(pool), 2000, 'Postgres (WAL position)'),
    replicas: () => router.statuses(),
    provider,
    runs,
    queues: { embed, reindex: reindexQueue, maintenance },
    async close() {
      // Hit counts of answered ingests finish while the pool is still open.
      await background.drain();
      await embed.close();
      await reindexQueue.close();
      await maintenance.close();
      await engine.close();
    },
  };
}
