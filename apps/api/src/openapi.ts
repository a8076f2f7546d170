import { z } from 'zod';

/** An error status a route can answer, beyond the ones every route or every body can. */
export type RouteError = 404 | 409 | 503;

/** A documented /v1 route; the same schemas validate requests. */
export interface RouteDoc {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express path under /v1, e.g. `/entities/:name`. */
  path: string;
  /** Unique name of the operation, a client's method name (camelCase). */
  operationId: string;
  summary: string;
  /** Longer explanation (CommonMark); default: none. */
  description?: string;
  body?: z.ZodType;
  /** The body may be left out (no body, no Content-Type); default: false, a body is required. */
  bodyOptional?: boolean;
  /** The body may also be NDJSON (application/x-ndjson), one `body` item per line; default: false, JSON only. */
  ndjson?: boolean;
  query?: z.ZodType;
  /** The route reads an `Idempotency-Key` header (retries with the same key replay the first answer); default: false. */
  idempotencyKey?: boolean;
  /** Error statuses of this route on top of 400, 401, 429, 500 (all routes), 404 (routes with path parameters), 413 and 415 (routes with a body); default: none. */
  errors?: readonly RouteError[];
  /** Success status and what it returns. */
  success: { status: number; description: string };
}

const ref = (kind: 'schemas' | 'parameters' | 'headers' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });

const errorSchema = {
  type: 'object',
  description: 'Every error answer of the API.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details', 'requestId'],
      properties: {
        code: { type: 'string', description: 'Stable machine-readable code, e.g. invalid_input, not_found, conflict, too_large.', examples: ['invalid_input'] },
        message: { type: 'string', description: 'What was wrong, naming the bad value.' },
        details: { description: 'Structured context of the error (the offending field, limit, allowed types), or null.' },
        requestId: { type: 'string', description: 'The X-Request-Id of this request, also in the logs.' },
      },
    },
  },
};

const requestIdHeader = { description: "The request's id: the client's X-Request-Id when it is short and plain, else a new UUID.", schema: { type: 'string' } };
const retryAfterHeader = { description: 'Seconds to wait before sending the request again.', schema: { type: 'integer', minimum: 0 } };

/** Every error status the API answers with, what it means, and the headers it carries beyond X-Request-Id. */
const ERRORS: Record<number, { name: string; description: string; retryAfter?: boolean }> = {
  400: { name: 'BadRequest', description: 'Invalid input: a bad body, query or path parameter, an unknown query parameter, or a body where none is taken.' },
  401: { name: 'Unauthorized', description: 'Missing or invalid API key: send `Authorization: Bearer <KDB_API_KEY>`.' },
  404: { name: 'NotFound', description: 'The entity, record or reindex run does not exist.' },
  409: { name: 'Conflict', description: 'Conflicts with the current state: a name already taken, an Idempotency-Key reused for other records, a unique value already stored, an active reindex run, or an id prefix matching several records (code ambiguous_id, candidates in details).' },
  413: { name: 'PayloadTooLarge', description: 'Request body over KDB_MAX_BODY bytes, counted after decompression, or more records than KDB_MAX_RECORDS_PER_REQUEST (code too_large).' },
  415: { name: 'UnsupportedMediaType', description: 'Content-Type, charset or Content-Encoding not accepted by this route (details.allowed lists what is).' },
  429: { name: 'TooManyRequests', description: 'Too many wrong API keys from this address: wait for Retry-After seconds.', retryAfter: true },
  500: { name: 'InternalError', description: 'An unexpected server error; the logs carry its request id.' },
  503: { name: 'ServiceUnavailable', description: 'Postgres or Redis unavailable or not answering in time; nothing was committed, the same request may be sent again.', retryAfter: true },
};

const errorResponse = (e: (typeof ERRORS)[number]) => ({
  description: e.description,
  headers: { 'X-Request-Id': ref('headers', 'XRequestId'), ...(e.retryAfter ? { 'Retry-After': ref('headers', 'RetryAfter') } : {}) },
  content: { 'application/json': { schema: ref('schemas', 'Error') } },
});

const toJson = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });

/** The operation of one route: parameters, body, and every answer it can give. */
function operation(r: RouteDoc): Record<string, unknown> {
  const pathNames = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const parameters: unknown[] = pathNames.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  if (r.query) {
    const q = toJson(r.query) as { properties?: Record<string, { description?: string }>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      parameters.push({ name, in: 'query', required: (q.required ?? []).includes(name), ...(schema.description ? { description: schema.description } : {}), schema });
    }
  }
  parameters.push(ref('parameters', 'XRequestId'));
  if (r.idempotencyKey) parameters.push(ref('parameters', 'IdempotencyKey'));
  if (r.body) parameters.push(ref('parameters', 'ContentEncoding'));

  const content: Record<string, unknown> = {};
  if (r.body) {
    content['application/json'] = { schema: toJson(r.body) };
    if (r.ndjson) {
      // OpenAPI 3.1 has no schema for a stream of items: the line schema is in the description.
      const line = { type: 'string', description: 'NDJSON: one JSON object (a record) per line; a bad line is named by its number.' };
      content['application/x-ndjson'] = { schema: line };
      content['application/ndjson'] = { schema: line };
    }
  }

  const statuses = new Set<number>([400, 401, 429, 500, ...(pathNames.length ? [404] : []), ...(r.body ? [413, 415] : []), ...(r.errors ?? [])]);
  const responses: Record<string, unknown> = {
    [r.success.status]: {
      description: r.success.description,
      headers: {
        'X-Request-Id': ref('headers', 'XRequestId'),
        ...(r.idempotencyKey ? { 'Idempotent-Replayed': { description: '"true" when this answer replays the first request sent with the same Idempotency-Key.', schema: { type: 'string', enum: ['true'] } } } : {}),
      },
      ...(r.success.status === 204 ? {} : { content: { 'application/json': { schema: { type: 'object' } } } }),
    },
  };
  for (const status of [...statuses].sort((a, b) => a - b)) responses[status] = ref('responses', ERRORS[status]!.name);

  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    security: [{ bearer: [] }],
    parameters,
    ...(r.body ? { requestBody: { required: !r.bodyOptional, content } } : {}),
    responses,
  };
}

/** OpenAPI 3.1 document of the /v1 routes, generated from their zod schemas. */
export function openApiDocument(routes: readonly RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = `/v1${r.path.replace(/:(\w+)/g, '{$1}')}`;
    paths[path] ??= {};
    paths[path][r.method] = operation(r);
  }
  const used = new Set(Object.values(paths).flatMap((ops) => Object.values(ops).flatMap((op) => Object.keys((op as { responses: object }).responses))));
  const responses = Object.fromEntries(
    Object.entries(ERRORS)
      .filter(([status]) => used.has(status))
      .map(([, e]) => [e.name, errorResponse(e)]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'KameleonDB Pipeline API',
      version: '0.1.0',
      description: 'Records, embeddings, reindex runs, embedding cache and hybrid search. Every error answer is `{error: {code, message, details, requestId}}`.',
      // The package is private (package.json has no license): npm's word for "no license granted", as an SPDX custom reference.
      license: { name: 'UNLICENSED', identifier: 'LicenseRef-UNLICENSED' },
    },
    // Relative: the API answers on whatever host and port it was started with (KDB_PORT).
    servers: [{ url: '/', description: 'The server that serves this document.' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'KDB_API_KEY; none when the API runs with KDB_AUTH=disabled.' } },
      schemas: { Error: errorSchema },
      parameters: {
        XRequestId: { name: 'X-Request-Id', in: 'header', required: false, description: 'Id to carry through the logs and the answer; kept when it matches ^[A-Za-z0-9._:-]{1,128}$, else replaced.', schema: { type: 'string', maxLength: 128 } },
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description: 'Makes retries safe: the same key with the same records replays the first answer (Idempotent-Replayed: true); with other records it is a 409.',
          schema: { type: 'string', minLength: 1 },
        },
        ContentEncoding: { name: 'Content-Encoding', in: 'header', required: false, description: 'Compression of the body; the size limit counts decompressed bytes.', schema: { type: 'string', enum: ['gzip', 'deflate', 'br', 'identity'] } },
      },
      headers: { XRequestId: requestIdHeader, RetryAfter: retryAfterHeader },
      responses,
    },
    paths,
  };
}
