import { z } from 'zod';
import { walLsnSchema } from './walLsn.js';

/** Retrievers a search may use; hybrid fuses both with RRF. */
export const SEARCH_MODES = ['hybrid', 'vector', 'keyword'] as const;

/** How hybrid search fuses its two rankings: reciprocal rank fusion, or a weighted sum of normalized scores. */
export const FUSIONS = ['rrf', 'linear'] as const;

/** How linear fusion normalizes each retriever's scores. */
export const NORMALIZATIONS = ['minmax', 'l2', 'zscore'] as const;

/** Which servers may answer a search: any (a replica when KDB_SEARCH_DATABASE_URL names some), or the primary only. */
export const CONSISTENCIES = ['any', 'primary'] as const;

/** Longest search text, in characters: longer is a 400 naming this limit. */
export const MAX_QUERY_LENGTH = 4096;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

const weight = z.number({ message: 'weights must be two non-negative numbers' }).min(0, 'weights must not be negative').max(1e6, 'weights must be at most 1e6');
const quoted = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

const weightsTextMessage = (text: string) => `weights must be two non-negative numbers KEYWORD,VECTOR (e.g. 0.3,0.7), got ${quoted(text)}`;

/** GET: `weights=KEYWORD,VECTOR` (e.g. 0.3,0.7); POST: `{"keyword": 0.3, "vector": 0.7}`. */
const weights = z.union(
  [
    z.string().transform((text, ctx) => {
      const nums = text.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
      if (nums.length !== 2 || !nums.every((n) => Number.isFinite(n) && n >= 0 && n <= 1e6)) {
        ctx.addIssue({ code: 'custom', message: weightsTextMessage(text) });
        return z.NEVER;
      }
      return { keyword: nums[0]!, vector: nums[1]! };
    }),
    z.object({ keyword: weight, vector: weight }).strict(),
  ],
  // A failed union reports itself only: say what each shape needs.
  { error: (iss) => (typeof iss.input === 'string' ? weightsTextMessage(iss.input) : 'weights must be {"keyword": K, "vector": V} (two non-negative numbers) or the text "K,V"') },
);

/** `GET /v1/search` query parameters and `POST /v1/search` body (same names). */
export const searchSchema = z
  .object({
    q: z
      .string({ message: 'q is required (a string)' })
      .max(MAX_QUERY_LENGTH, `q must be at most ${MAX_QUERY_LENGTH} characters`)
      .trim()
      .min(1, 'q must not be empty'),
    entity: z.string().min(1).optional(),
    entities: z.union([z.string(), z.array(z.string().min(1))]).optional(),
    mode: z.enum(SEARCH_MODES, { message: `mode must be one of ${SEARCH_MODES.join(', ')}` }).default('hybrid'),
    limit: z.coerce.number({ message: 'limit must be a number' }).int('limit must be an integer').min(1, 'limit must be 1 to 100').max(100, 'limit must be 1 to 100').default(10),
    threshold: z.coerce.number({ message: 'threshold must be a number' }).optional(),
    where: z.union([z.string(), z.record(z.string(), scalar)]).optional(),
    explain: bool.optional(),
    window: z.coerce.number().int().min(1, 'window must be 1 to 1000').max(1000, 'window must be 1 to 1000').optional(),
    fusion: z.enum(FUSIONS, { message: `fusion must be one of ${FUSIONS.join(', ')}` }).optional(),
    rrfK: z.coerce.number({ message: 'rrfK must be an integer 1 to 1000' }).int('rrfK must be an integer 1 to 1000').min(1, 'rrfK must be an integer 1 to 1000').max(1000, 'rrfK must be an integer 1 to 1000').optional(),
    weights: weights.optional(),
    normalization: z.enum(NORMALIZATIONS, { message: `normalization must be one of ${NORMALIZATIONS.join(', ')}` }).optional(),
    /** false bypasses the result cache (explain always does). */
    cache: z
      .union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')], {
        error: (iss) => `cache must be true or false (or 1, 0), got ${typeof iss.input === 'string' ? quoted(iss.input) : typeof iss.input}`,
      })
      .optional(),
    /** Read-your-writes: served by a server that has replayed this WAL position (a write answer's KDB-Commit-LSN). */
    after: walLsnSchema('after').optional(),
    consistency: z.enum(CONSISTENCIES, { message: `consistency must be one of ${CONSISTENCIES.join(', ')}` }).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const given = (['fusion', 'rrfK', 'weights', 'normalization'] as const).filter((k) => s[k] !== undefined);
    if (given.length && s.mode !== 'hybrid') {
      ctx.addIssue({ code: 'custom', path: [given[0]!], message: `${given.join(', ')} ${given.length > 1 ? 'apply' : 'applies'} only to mode hybrid, not mode ${s.mode}` });
      return;
    }
    const fusion = s.fusion ?? 'rrf';
    const wrong = fusion === 'rrf' ? (['weights', 'normalization'] as const).filter((k) => s[k] !== undefined) : s.rrfK !== undefined ? ['rrfK'] : [];
    for (const k of wrong) {
      ctx.addIssue({ code: 'custom', path: [k], message: `${k} applies only with fusion=${fusion === 'rrf' ? 'linear' : 'rrf'}, not fusion=${fusion}` });
    }
    if (fusion === 'linear' && !s.weights) ctx.addIssue({ code: 'custom', path: ['weights'], message: 'fusion=linear needs weights KEYWORD,VECTOR (e.g. 0.3,0.7)' });
    if (s.weights && s.weights.keyword + s.weights.vector === 0) ctx.addIssue({ code: 'custom', path: ['weights'], message: 'weights must not both be 0' });
  });

/** The JSON values `where` compares fields with. */
export const whereValueSchema = scalar;
