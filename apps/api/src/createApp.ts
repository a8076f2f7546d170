import express, { type Request } from 'express';
import { z } from 'zod';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  vectorIndexStatus,
  cacheSummary,
  clearCache,
  waitForEmbedded,
  dryRunReindex,
  entityPatchSchema,
  getRun,
  parseDuration,
  startReindex,
  updateEntity,
  type CacheStats,
  type ReindexJobData,
  type ReindexRunStore,
  type SearchEngine,
  type PipelineMetrics,
  checkReadiness,
  createEntity,
  deleteRecord,
  embeddingStatusByEntity,
  entityInputSchema,
  enqueueEmbed,
  fromJsonBody,
  getEntity,
  getRecord,
  ingestRecords,
  listEntities,
  patchRecord,
  readNdjson,
  ConflictError,
  ValidationError,
  type EmbedJobData,
  type EmbeddingProvider,
} from '@kameleondb/core';
import { requireApiKey } from './auth.js';
import { errorHandler } from './errorHandler.js';
import { searchSchema, toSearchParams } from './searchSchema.js';
import { openApiDocument, type RouteDoc } from './openapi.js';
import { createDashboard, requireDashboardAuth } from './dashboard.js';

export interface AppDeps {
  pool: pg.Pool;
  redis: Redis;
  queue: Queue<EmbedJobData>;
  provider: EmbeddingProvider;
  logger: Logger;
  /** null: authentication disabled (KDB_AUTH=disabled). */
  apiKey: string | null;
  maxBody: string;
  jobSize: number;
  waitTimeoutMs: number;
  runs: ReindexRunStore;
  reindexQueue: Queue<ReindexJobData>;
  cacheStats: CacheStats;
  search: SearchEngine;
  metrics: PipelineMetrics;
  /** Queues shown in the dashboard (embed, reindex, maintenance). */
  dashboardQueues: Queue[];
  dashboardReadOnly: boolean;
  pricePerMillionTokens?: number | undefined;
}

const reindexBodySchema = z
  .object({
    entity: z.string().min(1).optional(),
    force: z.boolean().default(false),
    dryRun: z.boolean().default(false),
  })
  .strict();

const isNdjson = (req: Request) => /^application\/(x-)?ndjson\b/i.test(req.get('content-type') ?? '');

function parseBody<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  throw new ValidationError(issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), { issues });
}

const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).optional() });
const cacheDeleteQuery = z.object({ olderThan: z.string().optional(), model: z.string().optional() });
const waitQuery = z.object({ wait: z.enum(['true', 'false', '1', '0']).optional() });

/** Every /v1 route, with the schemas that validate it: the OpenAPI document is made from this list. */
export const ROUTES: RouteDoc[] = [
  { method: 'post', path: '/entities', summary: 'Create an entity', body: entityInputSchema, success: { status: 201, description: 'the entity' } },
  { method: 'get', path: '/entities', summary: 'List entities', success: { status: 200, description: '{entities}' } },
  { method: 'get', path: '/entities/:name', summary: 'Read an entity', success: { status: 200, description: 'the entity' } },
  { method: 'patch', path: '/entities/:name', summary: 'Add fields or change embedFields (starts a reindex)', body: entityPatchSchema, success: { status: 200, description: 'the entity and its reindex run' } },
  { method: 'post', path: '/entities/:name/records', summary: 'Insert one record, a JSON array or NDJSON (application/x-ndjson); an Idempotency-Key header makes retries safe', query: waitQuery, body: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]), success: { status: 202, description: '{count, ids, jobs}; 200 with counts when wait=true' } },
  { method: 'get', path: '/entities/:name/records/:id', summary: 'Read a record and its embedding status', success: { status: 200, description: 'the record' } },
  { method: 'patch', path: '/entities/:name/records/:id', summary: 'Merge fields into a record', body: z.record(z.string(), z.unknown()), success: { status: 200, description: 'the record and whether it is re-embedded' } },
  { method: 'delete', path: '/entities/:name/records/:id', summary: 'Delete a record', success: { status: 204, description: 'deleted' } },
  { method: 'get', path: '/embeddings/status', summary: 'Provider, per-entity counts, active runs, vector index segments', success: { status: 200, description: 'status' } },
  { method: 'post', path: '/reindex', summary: 'Start a reindex run, or a dry run', body: reindexBodySchema, success: { status: 202, description: 'the run (200 with the report for a dry run)' } },
  { method: 'get', path: '/reindex', summary: 'Recent reindex runs, newest first', query: listQuery, success: { status: 200, description: '{runs}' } },
  { method: 'get', path: '/reindex/:id', summary: 'One reindex run with live progress', success: { status: 200, description: 'the run' } },
  { method: 'post', path: '/reindex/:id/cancel', summary: 'Cancel a reindex run', success: { status: 200, description: 'the run as it ended' } },
  { method: 'get', path: '/search', summary: 'Hybrid, vector or keyword search', query: searchSchema, success: { status: 200, description: '{results, count, mode, took_ms}' } },
  { method: 'post', path: '/search', summary: 'Search with a JSON body', body: searchSchema, success: { status: 200, description: '{results, count, mode, took_ms}' } },
  { method: 'get', path: '/cache', summary: 'Embedding cache summary', success: { status: 200, description: 'entries, bytes, per model, hit rate' } },
  { method: 'delete', path: '/cache', summary: 'Delete cache entries by last use and model', query: cacheDeleteQuery, success: { status: 200, description: '{deleted}' } },
  { method: 'get', path: '/openapi.json', summary: 'This document', success: { status: 200, description: 'OpenAPI 3.1' } },
];

export function createApp(deps: AppDeps): express.Express {
  const { pool, queue, provider } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag: answers carry took_ms, so one never matches a second time, and hashing
  // each body cost ~0.03 ms at p50 and ~0.08 ms at p95 per search (BENCHMARKS.md).
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await checkReadiness(pool, deps.redis);
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', ...r });
  });
  // Prometheus metrics, behind the same key as /v1.
  app.get('/metrics', ...(deps.apiKey ? [requireApiKey(deps.apiKey)] : []), async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Never open by default: without an API key (KDB_AUTH=disabled) there is no dashboard.
  if (deps.apiKey) {
    app.use('/admin/queues', requireDashboardAuth(deps.apiKey), createDashboard(deps.dashboardQueues, { basePath: '/admin/queues', readOnly: deps.dashboardReadOnly }));
  } else {
    deps.logger.warn('dashboard /admin/queues is off: it needs an API key (authentication is disabled)');
  }

  const v1 = express.Router();
  if (deps.apiKey) v1.use(requireApiKey(deps.apiKey));
  v1.use(express.json({ limit: deps.maxBody }));

  v1.post('/entities', async (req, res) => {
    const input = parseBody(entityInputSchema, req.body);
    res.status(201).json(await createEntity(pool, input));
  });
  v1.get('/entities', async (_req, res) => {
    res.json({ entities: await listEntities(pool) });
  });
  v1.get('/entities/:name', async (req, res) => {
    res.json(await getEntity(pool, req.params.name));
  });
  // Changing embedFields recomputes every row's text and reindexes the entity.
  v1.patch('/entities/:name', async (req, res) => {
    const patch = parseBody(entityPatchSchema, req.body);
    // Only an embedFields change needs the runs (Redis): adding fields works while Redis is away.
    const active = patch.embedFields ? (await deps.runs.active()).find((r) => r.entity === req.params.name || r.entity === null) : undefined;
    if (patch.embedFields && active) {
      throw new ConflictError(`a reindex run is active for this entity (${active.id}); cancel it or wait before changing embedFields`, {
        activeRunId: active.id,
      });
    }
    const { entity, embedFieldsChanged } = await updateEntity(pool, req.params.name, patch);
    const reindex = embedFieldsChanged
      ? await startReindex({ pool, runs: deps.runs, reindexQueue: deps.reindexQueue }, { entity: entity.name, force: false, recompute: true })
      : null;
    res.json({ ...entity, reindex });
  });

  v1.post('/entities/:name/records', async (req, res) => {
    const entity = await getEntity(pool, req.params.name);
    const wait = req.query.wait === 'true' || req.query.wait === '1';
    let records;
    if (isNdjson(req)) records = readNdjson(req);
    else if (req.body === undefined) throw new ValidationError('send records as application/json (one object or an array) or application/x-ndjson');
    else records = fromJsonBody(req.body);
    const result = await ingestRecords({ pool, queue, entity, records, jobSize: deps.jobSize, idempotencyKey: req.get('idempotency-key') });
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    const body = {
      count: result.ids.length,
      ids: result.ids,
      jobs: result.jobs,
      ...(result.replayed ? { replayed: true } : {}),
      ...(result.enqueueError
        ? { warning: `records are stored but enqueueing failed (${result.enqueueError}); they stay pending until the sweeper enqueues them` }
        : {}),
    };
    if (!wait) {
      res.status(202).json(body);
      return;
    }
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const counts = await waitForEmbedded(pool, result.ids, { timeoutMs: deps.waitTimeoutMs, signal: gone.signal });
    res.status(counts.pending > 0 ? 202 : 200).json({ ...body, counts, done: counts.pending === 0 });
  });

  v1.get('/entities/:name/records/:id', async (req, res) => {
    res.json(await getRecord(pool, req.params.name, req.params.id));
  });
  v1.patch('/entities/:name/records/:id', async (req, res) => {
    const entity = await getEntity(pool, req.params.name);
    const { record, reembed } = await patchRecord(pool, entity, req.params.id, req.body);
    // The change is committed and the row pending: a failed enqueue leaves it to the sweeper, as an ingest does.
    const enqueueError = reembed ? await enqueueEmbed(queue, [record.id], { chunkSize: 1 }).then(() => null, (err: Error) => err.message) : null;
    res.json({ ...record, reembed, ...(enqueueError ? { warning: `the change is stored but enqueueing failed (${enqueueError}); the record stays pending until the sweeper enqueues it` } : {}) });
  });
  v1.delete('/entities/:name/records/:id', async (req, res) => {
    await deleteRecord(pool, req.params.name, req.params.id);
    res.status(204).end();
  });

  v1.get('/embeddings/status', async (_req, res) => {
    // Runs live in Redis; the store bounds its wait, and without Redis the answer is what Postgres knows.
    const [entities, runs, vectorIndex] = await Promise.all([
      embeddingStatusByEntity(pool, provider.modelKey),
      deps.runs.active().then(
        (active) => ({ active, warning: null }),
        (err: Error) => ({ active: null, warning: `active reindex runs are unknown: ${err.message}` }),
      ),
      vectorIndexStatus(pool),
    ]);
    const activeRuns = runs.active;
    res.json({
      ...(runs.warning ? { warning: runs.warning } : {}),
      provider: provider.name,
      model: provider.model,
      dimensions: provider.dimensions,
      modelKey: provider.modelKey,
      maxInputs: provider.limits.maxInputs,
      entities,
      activeRuns,
      vectorIndex,
    });
  });

  v1.post('/reindex', async (req, res) => {
    const body = parseBody(reindexBodySchema, req.body ?? {});
    const entity = body.entity ?? null;
    if (body.dryRun) {
      if (entity) await getEntity(pool, entity);
      res.json(await dryRunReindex(pool, provider, { entity, force: body.force, pricePerMillionTokens: deps.pricePerMillionTokens }));
      return;
    }
    const run = await startReindex({ pool, runs: deps.runs, reindexQueue: deps.reindexQueue }, { entity, force: body.force });
    res.status(202).json(run);
  });
  v1.get('/reindex', async (req, res) => {
    const limit = parseBody(listQuery, req.query).limit ?? 20;
    res.json({ runs: await deps.runs.list(limit) });
  });
  v1.get('/reindex/:id', async (req, res) => {
    res.json(await getRun(deps.runs, req.params.id));
  });
  v1.post('/reindex/:id/cancel', async (req, res) => {
    await getRun(deps.runs, req.params.id);
    res.json(await deps.runs.finish(req.params.id, 'cancelled'));
  });

  const runSearch = async (input: unknown) => {
    const params = toSearchParams(parseBody(searchSchema, input));
    const end = deps.metrics.searchSeconds.startTimer({ mode: params.mode });
    const answer = await deps.search.search(params);
    end();
    return answer;
  };
  v1.get('/search', async (req, res) => {
    res.json(await runSearch(req.query));
  });
  v1.post('/search', async (req, res) => {
    res.json(await runSearch(req.body ?? {}));
  });

  const openapi = openApiDocument(ROUTES);
  v1.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  v1.get('/cache', async (_req, res) => {
    const [summary, stats] = await Promise.all([cacheSummary(pool), deps.cacheStats.read()]);
    res.json({ ...summary, hits: stats.hits, misses: stats.misses, hitRate: stats.hitRate, statsSince: stats.since });
  });
  v1.delete('/cache', async (req, res) => {
    const { olderThan, model: modelKey } = parseBody(cacheDeleteQuery, req.query);
    const model = modelKey || undefined;
    const olderThanMs = olderThan === undefined ? undefined : parseDuration(olderThan, 'olderThan');
    const deleted = await clearCache(pool, { ...(olderThanMs !== undefined ? { olderThanMs } : {}), ...(model ? { modelKey: model } : {}) });
    res.json({ deleted, olderThan: olderThan ?? null, model: model ?? null });
  });

  app.use('/v1', v1);
  app.locals.v1Router = v1;
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such route', details: null } });
  });
  app.use(errorHandler(deps.logger));
  return app;
}
