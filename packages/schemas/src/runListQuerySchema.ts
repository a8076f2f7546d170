import { z } from 'zod';

/** Query of `GET /v1/reindex`: how many recent runs (default 20). */
export const runListQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).optional() }).strict();
