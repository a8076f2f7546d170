import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * `items.map(fn)` that lets the event loop run after every `sliceMs` of work
 * (checked every 32 items): CPU work over a large batch (hashing, tokenizing
 * thousands of records) does not hold up other requests of the same process
 * for more than that.
 */
export async function mapYielding<T, R>(items: readonly T[], fn: (item: T, index: number) => R, sliceMs = 2): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let since = performance.now();
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i]!, i);
    if ((i & 31) === 31 && performance.now() - since > sliceMs) {
      await yieldToEventLoop();
      since = performance.now();
    }
  }
  return out;
}
