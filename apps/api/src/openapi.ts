import { z } from 'zod';

/** A documented /v1 route; the same schemas validate requests. */
export interface RouteDoc {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express path under /v1, e.g. `/entities/:name`. */
  path: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /** Success status and what it returns. */
  success: { status: number; description: string };
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
};

const toJson = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });

/** OpenAPI 3.1 document of the /v1 routes, generated from their zod schemas. */
export function openApiDocument(routes: readonly RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = `/v1${r.path.replace(/:(\w+)/g, '{$1}')}`;
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const q = toJson(r.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        params.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema } as never);
      }
    }
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      security: [{ bearer: [] }],
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: toJson(r.body) } } } } : {}),
      responses: {
        [r.success.status]: { description: r.success.description },
        '400': { description: 'invalid input', content: { 'application/json': { schema: errorSchema } } },
        '401': { description: 'missing or invalid API key', content: { 'application/json': { schema: errorSchema } } },
        default: { description: 'error', content: { 'application/json': { schema: errorSchema } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'KameleonDB Pipeline API', version: '0.1.0', description: 'Records, embeddings, reindex runs, embedding cache and hybrid search.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'KDB_API_KEY' } } },
    paths,
  };
}
