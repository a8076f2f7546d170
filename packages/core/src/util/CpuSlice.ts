import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * Bounds the stretches of a long CPU loop (hashing, tokenizing thousands of
 * records): `due()` turns true once `sliceMs` of work passed since the last
 * `pause()` (the clock is read every 32 calls), and `pause()` lets the event
 * loop run, so other requests of the process wait at most about that long.
 */
export class CpuSlice {
  private since = performance.now();
  private calls = 0;

  constructor(private readonly sliceMs = 2) {}

  due(): boolean {
    return (++this.calls & 31) === 0 && performance.now() - this.since > this.sliceMs;
  }

  async pause(): Promise<void> {
    await yieldToEventLoop();
    this.since = performance.now();
  }
}
