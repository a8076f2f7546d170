import { CpuSlice } from './CpuSlice.js';

/**
 * `items.map(fn)` that lets the event loop run after every `sliceMs` of work
 * (CpuSlice): CPU work over a large batch (hashing, tokenizing thousands of
 * records) does not hold up other requests of the same process for longer.
 */
export async function mapYielding<T, R>(items: readonly T[], fn: (item: T, index: number) => R, sliceMs = 2): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  const slice = new CpuSlice(sliceMs);
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i]!, i);
    if (slice.due()) await slice.pause();
  }
  return out;
}
