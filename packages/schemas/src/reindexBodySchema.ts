import { z } from 'zod';

/** Body of `POST /v1/reindex` (optional: no body reindexes every entity). */
export const reindexBodySchema = z
  .object({
    entity: z.string().min(1).optional(),
    force: z.boolean().default(false),
    dryRun: z.boolean().default(false),
  })
  .strict();
