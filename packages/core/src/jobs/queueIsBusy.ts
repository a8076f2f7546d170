import type { JobType, Queue } from 'bullmq';

/** Job states of work in hand or coming: a queue with any is busy. */
export const BUSY_STATES: readonly JobType[] = ['waiting', 'active', 'delayed', 'prioritized'];

/** Whether `queue` holds jobs in any of `states` (default BUSY_STATES): one round trip. */
export async function queueIsBusy(queue: Queue, states: readonly JobType[] = BUSY_STATES): Promise<boolean> {
  const c = await queue.getJobCounts(...states);
  return Object.values(c).some((n) => n > 0);
}
