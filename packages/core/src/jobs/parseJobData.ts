import { UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';

const MAX_REASON = 500;

/**
 * Job data is untrusted input (anyone who can write to Redis or use the
 * dashboard can add a job): parses it with `schema`, or throws BullMQ's
 * UnrecoverableError, which fails the job at once without retries, naming
 * the queue, the job and what is wrong (bounded: the data may be huge).
 */
export function parseJobData<S extends z.ZodType>(queue: string, schema: S, job: Pick<Job, 'id' | 'name' | 'data'>): z.infer<S> {
  const parsed = schema.safeParse(job.data);
  if (parsed.success) return parsed.data;
  let reason = parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || 'data'}: ${i.message}`)
    .join('; ');
  if (reason.length > MAX_REASON) reason = `${reason.slice(0, MAX_REASON)}…`;
  throw new UnrecoverableError(`malformed ${queue} job ${job.id ?? '?'} (name ${JSON.stringify(String(job.name).slice(0, 60))}): ${reason}; failed without retries`);
}
