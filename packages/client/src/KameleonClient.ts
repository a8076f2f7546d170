import { KameleonApiError } from './KameleonApiError.js';
import { callTimeoutDispatcher } from './callTimeoutDispatcher.js';
import { byteStream, ndjsonStream } from './ndjsonStream.js';
import { readBoundedText } from './readBoundedText.js';
import type {
  AnalyzerRun,
  BatchDeleteAnswer,
  BatchUpdateAnswer,
  CacheClearAnswer,
  CacheClearRequest,
  CacheSummary,
  DryRunReport,
  EmbeddingStatus,
  Entity,
  EntityDescription,
  EntityInput,
  EntityPatch,
  EntityUpdate,
  InsertAnswer,
  RecordListQuery,
  RecordPage,
  RecordUpdate,
  ReindexRequest,
  ReindexRun,
  SearchAnswer,
  SearchMetrics,
  SearchRequest,
  SpaceBuild,
  SpaceDryRun,
  SpaceList,
  SpaceRequest,
  EmbeddingSpace,
  StoredRecord,
} from './apiTypes.js';

export interface KameleonClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080. Required. */
  url: string;
  /** Sent as `Authorization: Bearer …`; omitted when empty (KDB_AUTH=disabled). Default none. */
  apiKey?: string | undefined;
  /** Longest a call may take, in ms, body included; 0 for no limit. Default 30,000. */
  timeoutMs?: number;
  /** Longest a call with a streamed body (insertStream, batchUpdate of an iterable) may take, in ms; 0 for no limit. Default 600,000. */
  uploadTimeoutMs?: number;
  /** Longest an insert with `wait` may take, in ms (the API waits up to KDB_WAIT_TIMEOUT_MS, 10 min by default); 0 for no limit. Default 660,000. */
  waitTimeoutMs?: number;
  /** Largest answer read, in bytes; a longer one fails with `response_too_large`. Default 64 MiB. */
  maxResponseBytes?: number;
  /**
   * The fetch to use (a test double of the network, a wrapper). Default globalThis.fetch. Its init carries
   * `dispatcher`: the global undici dispatcher with undici's 300 s header and body timeouts off, so that only
   * the timeouts above bound a call; a fetch that replaces it (its own proxy agent) keeps that agent's timeouts.
   */
  fetch?: typeof fetch;
}

/** Per call: an AbortSignal of the caller, and a timeout other than the client's. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface InsertOptions extends CallOptions {
  /** Answer once every record is embedded or failed (up to the server's wait timeout; `done` says which). Default false. */
  wait?: boolean;
  /** Retry-safe: the same key and body never insert twice. Default none. */
  idempotencyKey?: string;
}

type Body = { json: unknown } | { ndjson: ReadableStream<Uint8Array> };

interface Request extends CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: Body;
  headers?: Record<string, string>;
}

const seg = encodeURIComponent;

/**
 * A typed client of the KameleonDB Pipeline HTTP API. Every failure is a
 * KameleonApiError; every call is bounded by a timeout and the answer size.
 */
export class KameleonClient {
  private readonly base: URL;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: KameleonClientOptions) {
    this.base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
  }

  /** The base URL calls go to. */
  get url(): string {
    return this.opts.url;
  }

  /** Whether an API key is set (a 401 without one means it is missing, not wrong). */
  get hasApiKey(): boolean {
    return Boolean(this.opts.apiKey);
  }

  readonly entities = {
    create: (input: EntityInput, o?: CallOptions) => this.call<Entity>('POST', 'v1/entities', { ...o, body: { json: input } }),
    list: async (o?: CallOptions) => (await this.call<{ entities: Entity[] }>('GET', 'v1/entities', { ...o })).entities,
    get: (name: string, o?: CallOptions) => this.call<EntityDescription>('GET', `v1/entities/${seg(name)}`, { ...o }),
    update: (name: string, patch: EntityPatch, o?: CallOptions) => this.call<EntityUpdate>('PATCH', `v1/entities/${seg(name)}`, { ...o, body: { json: patch } }),
  };

  readonly records = {
    /** One record or an array, as one JSON body. */
    insert: (entity: string, records: Record<string, unknown> | readonly Record<string, unknown>[], o: InsertOptions = {}) =>
      this.call<InsertAnswer>('POST', `v1/entities/${seg(entity)}/records`, { ...this.waiting(o), query: { wait: o.wait || undefined }, headers: idem(o), body: { json: records } }),
    /** Records from an (async) iterable, sent as NDJSON while they are produced: memory stays bounded whatever the count. */
    insertStream: (entity: string, records: AsyncIterable<Record<string, unknown>> | Iterable<Record<string, unknown>>, o: InsertOptions = {}) =>
      this.upload<InsertAnswer>('POST', `v1/entities/${seg(entity)}/records`, ndjsonStream(records), { ...this.waiting(o, true), query: { wait: o.wait || undefined }, headers: idem(o) }),
    /** Bytes already in NDJSON form (a file or stdin stream), passed through with backpressure. */
    insertNdjson: (entity: string, bytes: AsyncIterable<Uint8Array | string>, o: InsertOptions = {}) =>
      this.upload<InsertAnswer>('POST', `v1/entities/${seg(entity)}/records`, byteStream(bytes), { ...this.waiting(o, true), query: { wait: o.wait || undefined }, headers: idem(o) }),
    /** Inserts and answers once every record is embedded or failed; see `done` and `counts`. */
    insertAndWait: (entity: string, records: Record<string, unknown> | readonly Record<string, unknown>[], o: Omit<InsertOptions, 'wait'> = {}) =>
      this.records.insert(entity, records, { ...o, wait: true }),
    /** A record by id, or by a unique prefix of it where the server accepts prefixes. */
    get: (entity: string, id: string, o?: CallOptions) => this.call<StoredRecord>('GET', `v1/entities/${seg(entity)}/records/${seg(id)}`, { ...o }),
    list: (entity: string, q: RecordListQuery = {}, o?: CallOptions) => this.call<RecordPage>('GET', `v1/entities/${seg(entity)}/records`, { ...o, query: { limit: q.limit, after: q.after } }),
    /** Every record in id order, a page (`pageSize`, default 500) at a time: one page in memory at once. */
    listAll: (entity: string, o: CallOptions & { pageSize?: number } = {}) => this.pages(entity, o),
    /** Merges fields into a record; `reembed` says whether its text changed. */
    update: (entity: string, id: string, patch: Record<string, unknown>, o?: CallOptions) =>
      this.call<RecordUpdate>('PATCH', `v1/entities/${seg(entity)}/records/${seg(id)}`, { ...o, body: { json: patch } }),
    delete: async (entity: string, id: string, o?: CallOptions) => {
      await this.call<null>('DELETE', `v1/entities/${seg(entity)}/records/${seg(id)}`, { ...o });
    },
    /** `{id, ...fields}` each, all or nothing: an array as JSON, an iterable streamed as NDJSON. */
    batchUpdate: (entity: string, updates: readonly Record<string, unknown>[] | AsyncIterable<Record<string, unknown>>, o?: CallOptions) =>
      Array.isArray(updates)
        ? this.call<BatchUpdateAnswer>('PATCH', `v1/entities/${seg(entity)}/records`, { ...o, body: { json: updates } })
        : this.upload<BatchUpdateAnswer>('PATCH', `v1/entities/${seg(entity)}/records`, ndjsonStream(updates as AsyncIterable<Record<string, unknown>>), { ...o }),
    /** NDJSON bytes of `{id, ...fields}` lines (a file), streamed. */
    batchUpdateNdjson: (entity: string, bytes: AsyncIterable<Uint8Array | string>, o?: CallOptions) =>
      this.upload<BatchUpdateAnswer>('PATCH', `v1/entities/${seg(entity)}/records`, byteStream(bytes), { ...o }),
    /** Deletes every id, or none when one is unknown. */
    batchDelete: (entity: string, ids: readonly string[], o?: CallOptions) =>
      this.call<BatchDeleteAnswer>('POST', `v1/entities/${seg(entity)}/records/delete`, { ...o, body: { json: { ids } } }),
  };

  /** Hybrid (default), vector or keyword search; `method: 'GET'` sends it as a query string. */
  search(req: SearchRequest, o: CallOptions & { method?: 'GET' | 'POST' } = {}): Promise<SearchAnswer> {
    if (o.method === 'GET') {
      const { where, entities, weights, ...rest } = req;
      const query: Record<string, string | number | boolean | undefined> = { ...rest };
      if (weights !== undefined) query.weights = typeof weights === 'string' ? weights : `${weights.keyword},${weights.vector}`;
      if (where !== undefined) query.where = typeof where === 'string' ? where : JSON.stringify(where);
      if (entities !== undefined) query.entities = Array.isArray(entities) ? entities.join(',') : entities;
      return this.call<SearchAnswer>('GET', 'v1/search', { ...o, query });
    }
    return this.call<SearchAnswer>('POST', 'v1/search', { ...o, body: { json: req } });
  }

  /** The answering API process's searches, cache hit rate and latency quantiles (since start and the last 5 minutes). */
  searchMetrics(o?: CallOptions): Promise<SearchMetrics> {
    return this.call<SearchMetrics>('GET', 'v1/search/metrics', { ...o });
  }

  readonly reindex = {
    /** Starts a run (every entity without `entity`); follow it with get(). */
    start: (req: ReindexRequest = {}, o?: CallOptions) => this.call<ReindexRun>('POST', 'v1/reindex', { ...o, body: { json: { ...req, dryRun: false } } }),
    /** What a run would do (rows, texts to embed, tokens, cost), changing nothing. */
    dryRun: (req: ReindexRequest = {}, o?: CallOptions) => this.call<DryRunReport>('POST', 'v1/reindex', { ...o, body: { json: { ...req, dryRun: true } } }),
    /** Recent runs, newest first (limit 1..200, default 20). */
    list: async (q: { limit?: number } = {}, o?: CallOptions) => (await this.call<{ runs: ReindexRun[] }>('GET', 'v1/reindex', { ...o, query: { limit: q.limit } })).runs,
    get: (id: string, o?: CallOptions) => this.call<ReindexRun>('GET', `v1/reindex/${seg(id)}`, { ...o }),
    cancel: (id: string, o?: CallOptions) => this.call<ReindexRun>('POST', `v1/reindex/${seg(id)}/cancel`, { ...o }),
    /** Deletes finished runs older than `olderThan` (7d, 12h); active runs are never deleted. */
    clean: (q: { olderThan: string }, o?: CallOptions) => this.call<{ deleted: number }>('DELETE', 'v1/reindex', { ...o, query: { olderThan: q.olderThan } }),
  };

  /** Rebuilds of an entity's postings after a change of its analyzer (PATCH entity `analyzer`). */
  readonly analyzerRuns = {
    /** Recent runs, newest first; `entity` narrows to one entity's. */
    list: async (q: { entity?: string } = {}, o?: CallOptions) => (await this.call<{ runs: AnalyzerRun[] }>('GET', 'v1/analyzer-runs', { ...o, query: { entity: q.entity } })).runs,
    get: (id: string, o?: CallOptions) => this.call<AnalyzerRun>('GET', `v1/analyzer-runs/${seg(id)}`, { ...o }),
    /** Asks a running rebuild to stop: the new postings are dropped and the old analyzer stays. */
    cancel: (id: string, o?: CallOptions) => this.call<AnalyzerRun>('POST', `v1/analyzer-runs/${seg(id)}/cancel`, { ...o }),
  };

  readonly embeddings = {
    /** Provider, per-entity counts, active runs, vector index segments. */
    status: (o?: CallOptions) => this.call<EmbeddingStatus>('GET', 'v1/embeddings/status', { ...o }),
  };

  readonly spaces = {
    /** Every embedding space with its state, rows embedded / total and build run; `active` names the one search uses. */
    list: (o?: CallOptions) => this.call<SpaceList>('GET', 'v1/spaces', { ...o }),
    /** Starts building a space (202): search stays on the active one; with activate auto it switches when every row has a vector there. Again after a cancel, it resumes. */
    create: (req: SpaceRequest, o?: CallOptions) => this.call<SpaceBuild>('POST', 'v1/spaces', { ...o, body: { json: { ...req, dryRun: false } } }),
    /** What building a space would cost (rows, distinct texts, cached, tokens, requests, cost), changing nothing. */
    dryRun: (req: SpaceRequest, o?: CallOptions) => this.call<SpaceDryRun>('POST', 'v1/spaces', { ...o, body: { json: { ...req, dryRun: true } } }),
    /** Switches search to a space by model key (a retired one, or one built with activate manual). */
    activate: (key: string, o?: CallOptions) => this.call<EmbeddingSpace>('POST', `v1/spaces/${seg(key)}/activate`, { ...o }),
    /** Drops a space that is not active: its vectors and segments, nothing else. */
    drop: (key: string, o?: CallOptions) => this.call<{ dropped: string }>('DELETE', `v1/spaces/${seg(key)}`, { ...o }),
  };

  readonly cache = {
    summary: (o?: CallOptions) => this.call<CacheSummary>('GET', 'v1/cache', { ...o }),
    /** Deletes entries by last use and model, or every entry with `{all: true}`. */
    clear: (req: CacheClearRequest, o?: CallOptions) =>
      this.call<CacheClearAnswer>('DELETE', 'v1/cache', { ...o, query: 'all' in req ? { all: 'true' } : { olderThan: req.olderThan, model: req.model } }),
  };

  private async *pages(entity: string, o: CallOptions & { pageSize?: number }): AsyncGenerator<StoredRecord> {
    let after: string | undefined;
    for (;;) {
      const page = await this.records.list(entity, { limit: o.pageSize ?? 500, ...(after ? { after } : {}) }, o);
      yield* page.records;
      if (!page.next) return;
      after = page.next;
    }
  }

  /** An insert that waits for embeddings is given the wait's longer timeout, unless the call names one. */
  private waiting(o: InsertOptions, upload = false): InsertOptions {
    if (!o.wait || o.timeoutMs !== undefined) return o;
    const wait = this.opts.waitTimeoutMs ?? 660_000;
    const up = upload ? (this.opts.uploadTimeoutMs ?? 600_000) : 0;
    // 0 is no limit: a wait after an unlimited upload is unlimited too.
    return { ...o, timeoutMs: wait === 0 || (upload && up === 0) ? 0 : Math.max(wait, up) };
  }

  private upload<T>(method: string, path: string, stream: ReadableStream<Uint8Array>, r: Omit<Request, 'body'>): Promise<T> {
    return this.call<T>(method, path, { timeoutMs: this.opts.uploadTimeoutMs ?? 600_000, ...r, body: { ndjson: stream } });
  }

  private async call<T>(method: string, path: string, r: Request): Promise<T> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', ...r.headers };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    let body: string | ReadableStream<Uint8Array> | undefined;
    if (r.body && 'json' in r.body) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(r.body.json);
    } else if (r.body) {
      headers['content-type'] = 'application/x-ndjson';
      body = r.body.ndjson;
    }
    const timeoutMs = r.timeoutMs ?? this.opts.timeoutMs ?? 30_000;
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [timeout, r.signal].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const failed = (err: unknown): KameleonApiError => {
      if (err instanceof KameleonApiError) return err;
      if (timeout?.aborted) return new KameleonApiError({ status: 0, code: 'timeout', message: `${method} ${url.pathname} took longer than ${timeoutMs} ms`, cause: err });
      if (r.signal?.aborted) return new KameleonApiError({ status: 0, code: 'aborted', message: `${method} ${url.pathname} was aborted`, cause: err });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return new KameleonApiError({ status: 0, code: 'unreachable', message: `cannot reach the API at ${this.opts.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, cause: err });
    };
    let res: Response;
    let text: string;
    try {
      // duplex 'half': a streamed body is sent while the answer may already arrive (an early 4xx).
      // The dispatcher leaves the bound to `signal`: undici's own 300 s timeouts would cut a long upload or wait.
      const init = { method, headers, body, signal, dispatcher: callTimeoutDispatcher, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) };
      res = await this.fetchImpl(url, init as RequestInit);
      text = await readBoundedText(res, this.opts.maxResponseBytes ?? 64 * 1024 * 1024);
    } catch (err) {
      if (body instanceof ReadableStream) await body.cancel(err).catch(() => undefined);
      throw failed(err);
    }
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        throw new KameleonApiError({ status: res.status, code: 'invalid_response', message: `the API answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}` });
      }
    }
    if (!res.ok) {
      const e = (data as { error?: { code?: string; message?: string; details?: unknown; requestId?: string } } | null)?.error;
      throw new KameleonApiError({
        status: res.status,
        code: e?.code ?? `http_${res.status}`,
        message: e?.message ?? `the API answered HTTP ${res.status}`,
        details: e?.details,
        requestId: e?.requestId ?? res.headers.get('x-request-id'),
      });
    }
    return data as T;
  }
}

const idem = (o: InsertOptions): Record<string, string> => (o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {});
