import type pg from 'pg';
import { countStatuses, pendingIds, type StatusCounts } from '../store/searchRowStore.js';

/**
 * Waits until none of `ids` is pending (or the deadline passes, or `signal`
 * aborts), then returns their status counts. Each poll only looks at the
 * ids still pending at the previous one, so waiting on 100k records costs
 * less and less as they complete.
 */
export async function waitForEmbedded(
  pool: pg.Pool,
  ids: readonly string[],
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<StatusCounts> {
  const deadline = Date.now() + opts.timeoutMs;
  let pending: readonly string[] = ids;
  const every = ids.length > 10_000 ? 250 : 100;
  while (pending.length && Date.now() < deadline && !opts.signal?.aborted) {
    await new Promise((r) => setTimeout(r, every));
    pending = await pendingIds(pool, pending);
  }
  return countStatuses(pool, ids);
}
