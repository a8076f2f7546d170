import { z } from 'zod';

/** Query of `POST /v1/entities/:name/records`: wait=true answers once the records are embedded. */
export const waitQuerySchema = z.object({ wait: z.enum(['true', 'false', '1', '0']).optional() }).strict();
