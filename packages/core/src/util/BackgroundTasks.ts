/**
 * Best-effort work a request starts and does not wait for (an ingest's
 * cache-hit counts): kept until it settles, so a process shutting down can
 * let it finish before its pools close. Failures are the task's own to
 * handle; a rejection here is dropped.
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<unknown>>();

  /** Tracks `task` until it settles. */
  add(task: Promise<unknown>): void {
    const tracked = task.catch(() => undefined).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** Tasks not settled yet. */
  get size(): number {
    return this.running.size;
  }

  /** Settles once every task added so far (and any added meanwhile) has. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
