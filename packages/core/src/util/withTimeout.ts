import { KdbError } from '../errors.js';

/** A call that did not settle within its bound; `what` names the call. The API answers 503. */
export class TimeoutError extends KdbError {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super('unavailable', `${what} did not answer within ${ms} ms`, { details: { service: what, timeoutMs: ms } });
  }
}

/**
 * Settles with `p`, or rejects with a TimeoutError after `ms`. The work
 * itself goes on: Redis commands issued while Redis is away wait in ioredis'
 * offline queue (BullMQ needs `maxRetriesPerRequest: null`), so without a
 * bound a request would hang until Redis returns.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    timer.unref();
  });
  // A late rejection of `p` after the timeout must not become an unhandled rejection.
  p.catch(() => undefined);
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}
