import { z } from 'zod';

/** The jobs the maintenance queue runs, each added by its job scheduler. */
export const MAINTENANCE_JOB_NAMES = ['sweeper', 'ingest-key-expiry', 'cache-eviction'] as const;

/**
 * A maintenance job as a whole (its name picks the work, its data is
 * empty), checked before it runs like any other job data.
 */
export const maintenanceJobSchema = z.object({
  name: z.enum(MAINTENANCE_JOB_NAMES, { message: `name must be one of ${MAINTENANCE_JOB_NAMES.join(', ')}` }),
  data: z.object({}).strict(),
});
