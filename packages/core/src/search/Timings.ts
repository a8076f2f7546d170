/** Milliseconds since `since` (a performance.now() reading), rounded to the microsecond. */
export const msSince = (since: number): number => Math.round((performance.now() - since) * 1000) / 1000;

/** The duration of each step of one search, in the order the steps finished (explain's timings_ms). */
export class Timings {
  readonly ms: Record<string, number> = {};

  /** Records step `name` as having run from `since` (a performance.now() reading) until now. */
  lap(name: string, since: number): void {
    this.ms[name] = msSince(since);
  }
}
