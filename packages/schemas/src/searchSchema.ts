import { z } from 'zod';

/** Retrievers a search may use; hybrid fuses both with RRF. */
export const SEARCH_MODES = ['hybrid', 'vector', 'keyword'] as const;

/** Longest search text, in characters: longer is a 400 naming this limit. */
export const MAX_QUERY_LENGTH = 4096;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

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
  })
  .strict();

/** The JSON values `where` compares fields with. */
export const whereValueSchema = scalar;
