import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * `items.map(fn)` that lets the event loop run every `slice` items: CPU work
 * over a large batch (hashing, tokenizing thousands of records) does not hold
 * up other requests of the same process for its whole length.
 */
export async function mapYielding<T, R>(items: readonly T[], fn: (item: T, index: number) => R, slice = 500): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i]!, i);
    if ((i + 1) % slice === 0) await yieldToEventLoop();
  }
  return out;
}
