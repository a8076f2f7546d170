import express, { type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from 'pino';
import * as schemas from '@kameleondb/schemas';
import {
  entityPatchSchema,
  checkedModelKey,
  parseDuration,
  type Pipeline,
  type PipelineMetrics,
  entityInputSchema,
  fromJsonBody,
  readNdjson,
  ValidationError,
  KdbError,
  MAX_DELETE_IDS,
  type SourcedValue,
} from '@kameleondb/core';
import { requireApiKey } from './auth.js';
import { accepts, type Accepts } from './accepts.js';
import { BadKeyLimiter } from './BadKeyLimiter.js';
import { parseBody } from './parseBody.js';
import { requestId } from './requestId.js';
import { decodedBody } from './requestBody.js';
import { sameOriginMutations } from './sameOriginMutations.js';
import { sendIdsAnswer } from './sendIdsAnswer.js';
import { HttpError } from './HttpError.js';
import { sizeInBytes } from './sizeInBytes.js';
import { assertCleanJson } from './assertCleanJson.js';
import { errorHandler } from './errorHandler.js';
import { toSearchParams } from './toSearchParams.js';
import { openApiDocument, type RouteDoc } from './openapi.js';
import { createDashboard, requireDashboardAuth } from './dashboard.js';

export interface AppDeps {
  /** Every domain step; the app maps HTTP to its calls. */
  pipeline: Pipeline;
  logger: Logger;
  /** null: authentication disabled (KDB_AUTH=disabled). */
  apiKey: string | null;
  /** Largest request body, in bytes or with a unit (`256mb`). */
  maxBody: string;
  /** How long `?wait=true` waits, in ms. */
  waitTimeoutMs: number;
  metrics: PipelineMetrics;
  /** Bull Board without retry/remove/clean/add buttons. */
  dashboardReadOnly: boolean;
  /** Wrong-key limiter of /v1, /metrics and the dashboard; one per process by default. */
  badKeys?: BadKeyLimiter;
}

// Request schemas the typed client shares live in @kameleondb/schemas.
const { searchSchema, reindexBodySchema, spaceBodySchema } = schemas;
const listQuery = schemas.runListQuerySchema;

/** Longest olderThan: a century; longer durations are a typo (and overflow a timestamp). */
const MAX_OLDER_THAN_MS = 100 * 365 * 86_400_000;
const cacheDeleteQuery = schemas.cacheDeleteQuerySchema;
const reindexCleanQuery = z
  .object({ olderThan: z.string({ error: 'olderThan is required: how long ago a run must have ended to be deleted (7d, 12h, 90m)' }).max(40, 'olderThan must be a duration such as 7d') })
  .strict();
const waitQuery = schemas.waitQuerySchema;
const recordsBody = z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]);
const recordPatchBody = z.record(z.string(), z.unknown());
/** One item of a batch update: the record's id (or a unique prefix) and the fields to merge. */
const recordPatchItem = z.object({ id: z.string().min(1).max(36) }).catchall(z.unknown());
const recordsPatchBody = z.array(recordPatchItem);
const recordsDeleteBody = z
  .object({
    ids: z
      .array(z.string().min(1).max(36, 'an id is at most 36 characters (a UUID) or a shorter prefix'))
      .min(1, 'ids must name at least one record')
      .max(MAX_DELETE_IDS, `ids may name at most ${MAX_DELETE_IDS} records per request`),
  })
  .strict();
const recordListQuery = schemas.recordListQuerySchema;
const analyzerRunsQuery = z.object({ entity: z.string().regex(schemas.ENTITY_NAME_RE, 'entity must be an entity name').optional() }).strict();

/** Every /v1 route, with the schemas that validate it: the OpenAPI document is made from this list. */
export const ROUTES: RouteDoc[] = [
  { method: 'post', path: '/entities', operationId: 'createEntity', summary: 'Create an entity', body: entityInputSchema, errors: [409, 503], success: { status: 201, description: 'the entity' } },
  { method: 'get', path: '/entities', operationId: 'listEntities', summary: 'List entities', errors: [503], success: { status: 200, description: '{entities}' } },
  { method: 'get', path: '/entities/:name', operationId: 'getEntity', summary: 'Describe an entity: its fields, record count and embedding counts', errors: [503], success: { status: 200, description: 'the entity with records (count) and embedding {total, indexed, pending, failed, stale}' } },
  { method: 'patch', path: '/entities/:name', operationId: 'updateEntity', summary: 'Add, rename (renameFields) or drop (dropFields) fields, change embedFields, or change the analyzer',
    description:
      'One transaction: renamed and dropped fields are renamed or removed in every record, in required, unique (their indexes) and embedFields. When an embedded field is renamed or dropped, the texts are recomputed (search sees them at once) and a reindex run starts; a change of embedFields starts a recompute run. A 409 while a reindex run is active for the entity and embedded texts would change. A new `analyzer` starts a rebuild of the postings in the background (analyzerRun): searches use the old analyzer until it switches; a 409 while another rebuild of the entity runs.', body: entityPatchSchema, errors: [409, 503], success: { status: 200, description: 'the entity and its reindex run' } },
  {
    method: 'post',
    path: '/entities/:name/records',
    operationId: 'insertRecords',
    summary: 'Insert one record, a JSON array or NDJSON (application/x-ndjson); an Idempotency-Key header makes retries safe',
    description: 'The body is streamed into one transaction, chunk by chunk: a bad line or record (400 naming it), a body over KDB_MAX_BODY or more records than KDB_MAX_RECORDS_PER_REQUEST (413) writes nothing. Records are committed first, then id-only embed jobs are enqueued. With `wait=true` the answer waits (up to the server\'s wait timeout) until they are embedded: 200 when all are, 202 with counts when some are still pending.',
    query: waitQuery,
    body: recordsBody,
    ndjson: true,
    idempotencyKey: true,
    errors: [409, 503],
    success: { status: 202, description: '{count, ids, jobs}; 200 with counts when wait=true' },
  },
  { method: 'get', path: '/entities/:name/records', operationId: 'listRecords', summary: 'A page of records in id order (limit default 50); after= the last id of the previous page', query: recordListQuery, errors: [503], success: { status: 200, description: '{records, next}' } },
  {
    method: 'patch',
    path: '/entities/:name/records',
    operationId: 'updateRecords',
    summary: 'Batch update: merge fields into many records, all or nothing; a JSON array or NDJSON of {id, ...fields}',
    description:
      'Each item merges into its record as PATCH /entities/{name}/records/{id} does; `id` may be a unique prefix. Every item is validated (types, required, unique) and all are written in one transaction: a bad item, an unknown id (404), an ambiguous prefix (409 ambiguous_id), an id given twice (400) or a unique value taken (409) writes nothing, and the error names the line or index and the id. Records whose embedded text changed are re-embedded (`reembed`).',
    body: recordsPatchBody,
    ndjson: true,
    errors: [409, 503],
    success: { status: 200, description: '{count, ids, reembed, jobs}; a warning when enqueueing failed' },
  },
  {
    method: 'post',
    path: '/entities/:name/records/delete',
    operationId: 'deleteRecords',
    summary: 'Delete records by id (or unique id prefix), all or nothing',
    description: 'One transaction: every id must match one record of the entity, else nothing is deleted (404 naming the ones that match none; 409 ambiguous_id for a prefix of several records; 400 for an id given twice).',
    body: recordsDeleteBody,
    errors: [409, 503],
    success: { status: 200, description: '{deleted, ids}' },
  },
  { method: 'get', path: '/entities/:name/records/:id', operationId: 'getRecord', summary: 'Read a record and its embedding status', errors: [503], success: { status: 200, description: 'the record' } },
  { method: 'patch', path: '/entities/:name/records/:id', operationId: 'updateRecord', summary: 'Merge fields into a record', body: recordPatchBody, errors: [409, 503], success: { status: 200, description: 'the record and whether it is re-embedded' } },
  { method: 'delete', path: '/entities/:name/records/:id', operationId: 'deleteRecord', summary: 'Delete a record', errors: [503], success: { status: 204, description: 'deleted' } },
  { method: 'get', path: '/embeddings/status', operationId: 'getEmbeddingStatus', summary: 'Provider, per-entity counts, active runs, vector index segments', errors: [503], success: { status: 200, description: 'status' } },
  { method: 'post', path: '/reindex', operationId: 'startReindex', summary: 'Start a reindex run, or a dry run', description: 'The body may be left out: it reindexes every entity.', body: reindexBodySchema, bodyOptional: true, errors: [404, 409, 503], success: { status: 202, description: 'the run (200 with the report for a dry run)' } },
  { method: 'get', path: '/reindex', operationId: 'listReindexRuns', summary: 'Recent reindex runs, newest first', query: listQuery, errors: [503], success: { status: 200, description: '{runs}' } },
  { method: 'delete', path: '/reindex', operationId: 'cleanReindexRuns', summary: 'Delete finished runs (completed, cancelled, failed) that ended more than olderThan ago; live runs are kept', query: reindexCleanQuery, errors: [503], success: { status: 200, description: '{deleted}' } },
  { method: 'get', path: '/reindex/:id', operationId: 'getReindexRun', summary: 'One reindex run with live progress', errors: [503], success: { status: 200, description: 'the run' } },
  { method: 'post', path: '/reindex/:id/cancel', operationId: 'cancelReindexRun', summary: 'Cancel a reindex run', errors: [503], success: { status: 200, description: 'the run as it ended' } },
  { method: 'get', path: '/analyzer-runs', operationId: 'listAnalyzerRuns', summary: 'Recent rebuilds of postings for a new analyzer, newest first (entity= one entity\'s)', query: analyzerRunsQuery, errors: [503], success: { status: 200, description: '{runs}' } },
  { method: 'get', path: '/analyzer-runs/:id', operationId: 'getAnalyzerRun', summary: 'One rebuild of postings for a new analyzer, with its progress', errors: [404, 503], success: { status: 200, description: 'the run' } },
  { method: 'post', path: '/analyzer-runs/:id/cancel', operationId: 'cancelAnalyzerRun', summary: 'Cancel a running rebuild: its new postings are dropped and the old analyzer stays', errors: [404, 409, 503], success: { status: 200, description: 'the run (cancelRequested; state cancelled once its driver has stopped it)' } },
  { method: 'get', path: '/search', operationId: 'search', summary: 'Hybrid, vector or keyword search (cache=false bypasses the result cache)', description: 'With KDB_SEARCH_DATABASE_URL a streaming replica runs the search (the answer names it in servedBy). after= (or the KDB-After-LSN header) takes the KDB-Commit-LSN header of a write answer: a server that has replayed that write answers. consistency=primary keeps the search on the primary.', query: searchSchema, errors: [503], success: { status: 200, description: '{results, space, count, mode, took_ms, servedBy, cached}' } },
  { method: 'post', path: '/search', operationId: 'searchWithBody', summary: 'Search with a JSON body', description: 'With KDB_SEARCH_DATABASE_URL a streaming replica runs the search (the answer names it in servedBy). after= (or the KDB-After-LSN header) takes the KDB-Commit-LSN header of a write answer: a server that has replayed that write answers. consistency=primary keeps the search on the primary.', body: searchSchema, errors: [503], success: { status: 200, description: '{results, space, count, mode, took_ms, servedBy, cached}' } },
  { method: 'get', path: '/search/metrics', operationId: 'searchMetrics', summary: "This API process's searches, result cache hit rate and p50/p95/p99 latency per mode and per retriever, since start and over the last 5 minutes", errors: [], success: { status: 200, description: '{since, sinceStart, last5m, resultCache}' } },
  { method: 'get', path: '/spaces', operationId: 'listSpaces', summary: 'Embedding spaces: state, rows embedded / total, build run', errors: [503], success: { status: 200, description: '{spaces, active}' } },
  {
    method: 'post',
    path: '/spaces',
    operationId: 'createSpace',
    summary: 'Build a new embedding space (a reindex run into it), or a dry run of it',
    description: 'Search keeps using the active space during the build; with activate=auto the build switches to the new space when every row has a vector in it.',
    body: spaceBodySchema,
    errors: [409, 503],
    success: { status: 202, description: '{space, run} (200 with the report for a dry run)' },
  },
  { method: 'post', path: '/spaces/:key/activate', operationId: 'activateSpace', summary: 'Switch search to a space (a retired one, or one built with activate=manual); key is a URL-encoded model key', errors: [404, 409, 503], success: { status: 200, description: 'the space' } },
  { method: 'delete', path: '/spaces/:key', operationId: 'dropSpace', summary: 'Drop a space that is not the active one: its vectors and segments', errors: [404, 409, 503], success: { status: 200, description: '{dropped}' } },
  { method: 'get', path: '/cache', operationId: 'getCacheSummary', summary: 'Embedding cache summary', errors: [503], success: { status: 200, description: 'entries, bytes, per model, hit rate' } },
  { method: 'delete', path: '/cache', operationId: 'clearCache', summary: 'Delete cache entries by last use and model; all=true (alone) deletes every entry', query: cacheDeleteQuery, errors: [503], success: { status: 200, description: '{deleted}' } },
  { method: 'get', path: '/openapi.json', operationId: 'getOpenApiDocument', summary: 'This document', success: { status: 200, description: 'OpenAPI 3.1' } },
];

export function createApp(deps: AppDeps): express.Express {
  const { pipeline } = deps;
  const { entities, records, reindex, cache, provider, spaces } = pipeline;
  const limit = sizeInBytes(deps.maxBody);
  const badKeys = deps.badKeys ?? new BadKeyLimiter();
  const take = (spec: Accepts): RequestHandler => accepts(spec, limit);
  /**
   * KDB-Commit-LSN on a write answer: the primary's WAL position read after
   * the commit, for a search's `after` (read-your-writes on replicas). The
   * write is committed whatever happens here: should the position not be
   * read (the primary gone since), the answer goes out without it.
   */
  const commitLsn = async (res: Response) => {
    try {
      res.set('KDB-Commit-LSN', await pipeline.commitLsn());
    } catch (err) {
      deps.logger.warn({ err, requestId: res.locals.requestId }, 'the write is committed but its KDB-Commit-LSN could not be read');
    }
  };
  const app = express();
  app.disable('x-powered-by');
  // No ETag: answers carry took_ms, so one never matches a second time, and hashing
  // each body costs every search time for nothing (docs/decisions/no-etag.md).
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestId());

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await pipeline.ready();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', ...r });
  });
  // Prometheus metrics, behind the same key as /v1.
  app.get('/metrics', ...(deps.apiKey ? [requireApiKey(deps.apiKey, badKeys)] : []), async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // Never open by default: without an API key (KDB_AUTH=disabled) there is no dashboard.
  if (deps.apiKey) {
    app.use(
      '/admin/queues',
      requireDashboardAuth(deps.apiKey, badKeys),
      sameOriginMutations(),
      createDashboard([pipeline.queues.embed, pipeline.queues.reindex, pipeline.queues.maintenance], { basePath: '/admin/queues', readOnly: deps.dashboardReadOnly }),
    );
  } else {
    deps.logger.warn('dashboard /admin/queues is off: it needs an API key (authentication is disabled)');
  }

  const v1 = express.Router();
  if (deps.apiKey) v1.use(requireApiKey(deps.apiKey, badKeys));

  v1.post('/entities', take({ body: 'json' }), async (_req, res) => {
    const input = parseBody(entityInputSchema, res.locals.body, 'body');
    const created = await entities.create(input);
    await commitLsn(res);
    res.status(201).json(created);
  });
  v1.get('/entities', take({ body: 'none' }), async (_req, res) => {
    res.json({ entities: await entities.list() });
  });
  v1.get('/entities/:name', take({ body: 'none' }), async (req, res) => {
    res.json(await entities.describe(params(req).name));
  });
  // Changing embedFields recomputes every row's text and reindexes the entity.
  v1.patch('/entities/:name', take({ body: 'json' }), async (req, res) => {
    const patch = parseBody(entityPatchSchema, res.locals.body, 'body');
    const updated = await entities.update(params(req).name, patch);
    await commitLsn(res);
    res.json(updated);
  });

  v1.post('/entities/:name/records', take({ query: waitQuery, body: 'records' }), async (req, res) => {
    const entity = await entities.get(params(req).name);
    const { wait: waitParam } = res.locals.query as z.infer<typeof waitQuery>;
    const wait = waitParam === 'true' || waitParam === '1';
    let input;
    if (res.locals.ndjson) input = cleanValues(readNdjson(decodedBody(req, limit), { maxLineLength: limit }));
    else {
      const body = res.locals.body as unknown;
      if (body === null || typeof body !== 'object') {
        throw new ValidationError(`body must be a JSON object (one record) or an array of objects; got ${body === null ? 'null' : typeof body}`);
      }
      input = fromJsonBody(body);
    }
    const result = await records.ingest({ entity, records: input, idempotencyKey: req.get('idempotency-key') }).catch((err: unknown) => {
      // Everything before the commit is one transaction: a refusal, even after rows were streamed in, leaves nothing.
      if (err instanceof KdbError || err instanceof HttpError) err.message += '; nothing was written';
      throw err;
    });
    if (result.replayed) res.set('Idempotent-Replayed', 'true');
    await commitLsn(res);
    const head = { count: result.ids.length };
    const tail = {
      jobs: result.jobs,
      ...(result.replayed ? { replayed: true } : {}),
      ...(result.enqueueError
        ? { warning: `records are stored but enqueueing failed (${result.enqueueError}); they stay pending until the sweeper enqueues them` }
        : {}),
    };
    if (!wait) {
      await sendIdsAnswer(res, 202, head, result.ids, tail);
      return;
    }
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const counts = await records.waitForEmbedded(result.ids.toArray(), { timeoutMs: deps.waitTimeoutMs, signal: gone.signal });
    await sendIdsAnswer(res, counts.pending > 0 ? 202 : 200, head, result.ids, { ...tail, counts, done: counts.pending === 0 });
  });

  v1.get('/entities/:name/records', take({ query: recordListQuery, body: 'none' }), async (req, res) => {
    const entity = await entities.get(params(req).name);
    const { limit = 50, after } = res.locals.query as z.infer<typeof recordListQuery>;
    const page = await records.list(entity.name, { limit, after });
    // A full page may have a successor; the client asks again with after=next.
    res.json({ records: page, next: page.length === limit ? page[page.length - 1]!.id : null });
  });
  v1.patch('/entities/:name/records', take({ body: 'records' }), async (req, res) => {
    // The entity first: a body stream opened and never read would report its errors to nobody.
    const entity = await entities.get(params(req).name);
    let input;
    if (res.locals.ndjson) input = cleanValues(readNdjson(decodedBody(req, limit), { maxLineLength: limit }));
    else {
      const body = res.locals.body as unknown;
      if (!Array.isArray(body)) {
        throw new ValidationError(`body must be a JSON array of {"id": ..., ...fields} (or NDJSON of them); got ${body === null ? 'null' : typeof body === 'object' ? 'an object' : typeof body}`);
      }
      input = fromJsonBody(body);
    }
    const result = await records.patchMany(entity, input);
    await commitLsn(res);
    res.json({
      count: result.ids.length,
      ids: result.ids,
      reembed: result.reembed,
      jobs: result.jobs,
      ...(result.enqueueError ? { warning: `the changes are stored but enqueueing failed (${result.enqueueError}); the records stay pending until the sweeper enqueues them` } : {}),
    });
  });
  v1.post('/entities/:name/records/delete', take({ body: 'json' }), async (req, res) => {
    const { ids } = parseBody(recordsDeleteBody, res.locals.body, 'body');
    const deleted = await records.deleteMany(params(req).name, ids);
    await commitLsn(res);
    res.json({ deleted: deleted.length, ids: deleted });
  });
  v1.get('/entities/:name/records/:id', take({ body: 'none' }), async (req, res) => {
    res.json(await records.get(params(req).name, params(req).id));
  });
  v1.patch('/entities/:name/records/:id', take({ body: 'json' }), async (req, res) => {
    const patch = res.locals.body as unknown;
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new ValidationError(`body must be a JSON object of the fields to change; got ${patch === null ? 'null' : Array.isArray(patch) ? 'an array' : typeof patch}`);
    }
    const { record, reembed, enqueueError } = await records.patch(params(req).name, params(req).id, patch as Record<string, unknown>);
    await commitLsn(res);
    res.json({ ...record, reembed, ...(enqueueError ? { warning: `the change is stored but enqueueing failed (${enqueueError}); the record stays pending until the sweeper enqueues it` } : {}) });
  });
  v1.delete('/entities/:name/records/:id', take({ body: 'none' }), async (req, res) => {
    await records.delete(params(req).name, params(req).id);
    await commitLsn(res);
    res.status(204).end();
  });

  v1.get('/embeddings/status', take({ body: 'none' }), async (_req, res) => {
    // Runs live in Redis; the store bounds its wait, and without Redis the answer is what Postgres knows.
    const [entities, runs, vectorIndex, active, problems] = await Promise.all([
      records.statusByEntity(),
      reindex.active().then(
        (active) => ({ active, warning: null }),
        (err: Error) => ({ active: null, warning: `active reindex runs are unknown: ${err.message}` }),
      ),
      pipeline.search.vectorIndex(),
      spaces.active(),
      spaces.problems(),
    ]);
    const activeRuns = runs.active;
    // What search serves is the active space, whatever this process's KDB_EMBEDDING_* say.
    const served = active ?? { provider: provider.name, model: provider.model, dimensions: provider.dimensions, modelKey: provider.modelKey };
    res.json({
      ...(runs.warning ? { warning: runs.warning } : {}),
      provider: served.provider,
      model: served.model,
      dimensions: served.dimensions,
      modelKey: served.modelKey,
      maxInputs: served.modelKey === provider.modelKey ? provider.limits.maxInputs : null,
      space: served.modelKey,
      spaceProblems: problems,
      entities,
      activeRuns,
      vectorIndex,
      replicas: pipeline.replicas(),
    });
  });

  v1.post('/reindex', take({ body: 'optional-json' }), async (_req, res) => {
    const body = parseBody(reindexBodySchema, res.locals.body ?? {}, 'body');
    const entity = body.entity ?? null;
    if (body.dryRun) {
      res.json(await reindex.dryRun({ entity, force: body.force }));
      return;
    }
    const run = await reindex.start({ entity, force: body.force });
    res.status(202).json(run);
  });
  v1.get('/reindex', take({ query: listQuery, body: 'none' }), async (_req, res) => {
    const limit = (res.locals.query as z.infer<typeof listQuery>).limit ?? 20;
    res.json({ runs: await reindex.list(limit) });
  });
  v1.delete('/reindex', take({ query: reindexCleanQuery, body: 'none' }), async (_req, res) => {
    const { olderThan } = res.locals.query as z.infer<typeof reindexCleanQuery>;
    res.json({ deleted: await reindex.clean({ olderThanMs: olderThanMs(olderThan) }) });
  });
  v1.get('/reindex/:id', take({ body: 'none' }), async (req, res) => {
    res.json(await reindex.get(params(req).id));
  });
  v1.get('/analyzer-runs', take({ query: analyzerRunsQuery, body: 'none' }), async (_req, res) => {
    const { entity } = res.locals.query as z.infer<typeof analyzerRunsQuery>;
    res.json({ runs: await pipeline.analyzerRuns.list(entity) });
  });
  v1.get('/analyzer-runs/:id', take({ body: 'none' }), async (req, res) => {
    res.json(await pipeline.analyzerRuns.get(params(req).id));
  });
  v1.post('/analyzer-runs/:id/cancel', take({ body: 'none' }), async (req, res) => {
    res.json(await pipeline.analyzerRuns.cancel(params(req).id));
  });
  v1.post('/reindex/:id/cancel', take({ body: 'none' }), async (req, res) => {
    res.json(await reindex.cancel(params(req).id));
  });

  v1.get('/spaces', take({ body: 'none' }), async (_req, res) => {
    const all = await spaces.list();
    res.json({ spaces: all, active: all.find((s) => s.state === 'active')?.modelKey ?? null });
  });
  v1.post('/spaces', take({ body: 'json' }), async (_req, res) => {
    const { dryRun, activate, ...seed } = parseBody(spaceBodySchema, res.locals.body, 'body');
    if (dryRun) {
      res.json(await spaces.dryRun(seed));
      return;
    }
    res.status(202).json(await spaces.create({ ...seed, activate }));
  });
  v1.post('/spaces/:key/activate', take({ body: 'none' }), async (req, res) => {
    res.json(await spaces.activate(checkedModelKey(spaceKey(req))));
  });
  v1.delete('/spaces/:key', take({ body: 'none' }), async (req, res) => {
    res.json(await spaces.drop(checkedModelKey(spaceKey(req))));
  });

  // Latency metrics come from the engine's observations (startApi), the same ones GET /v1/search/metrics reports.
  const runSearch = async (req: Request, input: z.infer<typeof searchSchema>) => {
    const answer = await pipeline.search.search(toSearchParams(input, req.get('kdb-after-lsn')));
    deps.metrics.searchServed.inc({ server: answer.servedBy });
    return answer;
  };
  v1.get('/search/metrics', take({ body: 'none' }), (_req, res) => {
    res.json(pipeline.search.metrics());
  });
  v1.get('/search', take({ query: searchSchema, body: 'none' }), async (req, res) => {
    res.json(await runSearch(req, res.locals.query as z.infer<typeof searchSchema>));
  });
  v1.post('/search', take({ body: 'json' }), async (req, res) => {
    res.json(await runSearch(req, parseBody(searchSchema, res.locals.body, 'body')));
  });

  const openapi = openApiDocument(ROUTES);
  v1.get('/openapi.json', take({ body: 'none' }), (_req, res) => {
    res.json(openapi);
  });

  v1.get('/cache', take({ body: 'none' }), async (_req, res) => {
    res.json(await cache.summary());
  });
  // Deleting everything is never a default: it takes all=true, alone.
  v1.delete('/cache', take({ query: cacheDeleteQuery, body: 'none' }), async (_req, res) => {
    const { olderThan, model, all } = res.locals.query as z.infer<typeof cacheDeleteQuery>;
    if (all && (olderThan !== undefined || model !== undefined)) throw new ValidationError('all=true deletes every entry: give it alone, or give olderThan and/or model instead');
    if (!all && olderThan === undefined && model === undefined) {
      throw new ValidationError('say what to delete: olderThan (30d, 12h, 90m), model (a model key), or all=true for every entry');
    }
    const olderMs = olderThan === undefined ? undefined : olderThanMs(olderThan);
    const deleted = await cache.clear({ ...(olderMs !== undefined ? { olderThanMs: olderMs } : {}), ...(model ? { modelKey: model } : {}) });
    res.json({ deleted, olderThan: olderThan ?? null, model: model ?? null });
  });

  app.use('/v1', v1);
  app.locals.v1Router = v1;
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such route', details: null, requestId: res.locals.requestId } });
  });
  app.use(errorHandler(deps.logger));
  return app;
}

/** NDJSON lines pass the same checks as a JSON body (no NUL, no lone surrogate, no __proto__). */
async function* cleanValues(source: AsyncIterable<SourcedValue>): AsyncGenerator<SourcedValue> {
  for await (const v of source) {
    assertCleanJson(v.value, v.where);
    yield v;
  }
}

/** An `olderThan` query parameter (30d, 12h) in ms, at most a century. */
function olderThanMs(olderThan: string): number {
  const ms = parseDuration(olderThan, 'olderThan');
  if (ms > MAX_OLDER_THAN_MS) throw new ValidationError(`olderThan "${olderThan}" is longer than the most allowed, 36500d (a century)`);
  return ms;
}
/** The model key of a spaces route (Express has decoded it). */
const spaceKey = (req: Request) => (req.params as { key: string }).key;

/** Path parameters by name (the route-level middleware before each handler hides their names from the types). */
const params = (req: Request) => req.params as { name: string; id: string };
