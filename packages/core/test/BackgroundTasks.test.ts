import { describe, expect, it } from 'vitest';
import { BackgroundTasks } from '../src/util/BackgroundTasks.js';

const deferred = () => {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

describe('BackgroundTasks', () => {
  it('drain waits for every task, including one added while draining, and drops their rejections', async () => {
    const tasks = new BackgroundTasks();
    const a = deferred();
    const b = deferred();
    const c = deferred();
    tasks.add(a.promise);
    tasks.add(b.promise);
    let drained = false;
    const draining = tasks.drain().then(() => (drained = true));
    a.resolve();
    await new Promise((r) => setTimeout(r, 5));
    expect(drained).toBe(false);
    tasks.add(c.promise);
    b.reject(new Error('lost hit count'));
    await new Promise((r) => setTimeout(r, 5));
    expect(drained).toBe(false);
    expect(tasks.size).toBe(1);
    c.resolve();
    await draining;
    expect(drained).toBe(true);
    expect(tasks.size).toBe(0);
  });
});
