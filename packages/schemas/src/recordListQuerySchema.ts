import { z } from 'zod';

/** Query of `GET /v1/entities/:name/records`: a page (limit default 50) after a record id. */
export const recordListQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional(), after: z.string().max(40).optional() }).strict();
