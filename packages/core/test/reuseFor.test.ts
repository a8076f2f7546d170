import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { reuseFor } from '../src/util/reuseFor.js';

/** A load whose answers the test hands out one by one: call n resolves (or rejects) when the test says so. */
function loads() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  const load = vi.fn(() => new Promise<number>((resolve, reject) => pending.push({ resolve, reject })));
  return { load, pending };
}
/** Whether `p` has settled after the microtasks queued so far. */
async function settled<T>(p: Promise<T>): Promise<{ value: T } | 'pending'> {
  let out: { value: T } | 'pending' = 'pending';
  void p.then((value) => (out = { value }));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return out;
}

describe('reuseFor', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => void vi.useRealTimers());

  it('shares one load between callers while the value is young', async () => {
    const { load, pending } = loads();
    const get = reuseFor(1000, load);
    const a = get();
    const b = get();
    pending[0]!.resolve(1);
    expect([await a, await b]).toEqual([1, 1]);
    vi.advanceTimersByTime(400);
    expect(await get()).toBe(1);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('past half its age, answers with the kept value at once and loads the next one behind it', async () => {
    const { load, pending } = loads();
    const get = reuseFor(1000, load);
    const first = get();
    pending[0]!.resolve(1);
    await first;
    vi.advanceTimersByTime(600);
    // The refresh has not answered: the caller is not kept waiting for it.
    expect(await settled(get())).toEqual({ value: 1 });
    expect(load).toHaveBeenCalledTimes(2);
    expect(await settled(get())).toEqual({ value: 1 });
    expect(load).toHaveBeenCalledTimes(2);
    pending[1]!.resolve(2);
    await Promise.resolve();
    expect(await get()).toBe(2);
  });

  it('never answers a value older than its age: past it, a caller waits for the refresh under way, or a new load', async () => {
    const { load, pending } = loads();
    const get = reuseFor(1000, load);
    const first = get();
    pending[0]!.resolve(1);
    await first;
    vi.advanceTimersByTime(600);
    await get(); // starts the refresh at 600
    vi.advanceTimersByTime(500); // the kept value is 1100 ms old, the refresh 500
    const waiting = get();
    expect(await settled(waiting)).toBe('pending');
    expect(load).toHaveBeenCalledTimes(2);
    pending[1]!.resolve(2);
    expect(await waiting).toBe(2);
    vi.advanceTimersByTime(2000);
    const late = get();
    expect(await settled(late)).toBe('pending');
    expect(load).toHaveBeenCalledTimes(3);
    pending[2]!.resolve(3);
    expect(await late).toBe(3);
  });

  it('keeps the value when a refresh fails, and does not keep a failed load', async () => {
    const { load, pending } = loads();
    const get = reuseFor(1000, load);
    const first = get();
    pending[0]!.resolve(1);
    await first;
    vi.advanceTimersByTime(600);
    await get();
    pending[1]!.reject(new Error('connection lost'));
    await Promise.resolve();
    expect(await get()).toBe(1);
    vi.advanceTimersByTime(500);
    const failing = get();
    pending[2]!.reject(new Error('connection lost'));
    await expect(failing).rejects.toThrow('connection lost');
    const again = get();
    pending[3]!.resolve(4);
    expect(await again).toBe(4);
  });

  it('loads again at once when asked for a fresh value', async () => {
    const { load, pending } = loads();
    const get = reuseFor(1000, load);
    const first = get();
    pending[0]!.resolve(1);
    await first;
    const fresh = get(true);
    pending[1]!.resolve(2);
    expect(await fresh).toBe(2);
    expect(await get()).toBe(2);
  });
});
