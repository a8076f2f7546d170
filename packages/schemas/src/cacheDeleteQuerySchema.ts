import { z } from 'zod';

/** Query of `DELETE /v1/cache`: by last use and model, or all=true alone. */
export const cacheDeleteQuerySchema = z
  .object({
    olderThan: z.string().max(40).optional(),
    model: z.string().min(1).max(200).optional(),
    all: z.literal('true', { message: 'all must be "true" (to delete every entry)' }).optional(),
  })
  .strict();
