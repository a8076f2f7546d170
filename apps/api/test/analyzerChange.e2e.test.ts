import { hostname } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnalyzerRun } from '@kameleondb/schemas';
import { startApiProcess, startTogether, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { test } from '../../../test-support/fixtures.js';
import { refSearch, type RefDoc } from '../../../test-support/referenceBm25.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';
import { redisUrl } from '../../../test-support/urls.js';

const WORDS = ['refund', 'refunds', 'refunded', 'refunding', 'policy', 'policies', 'running', 'runs', 'ran', 'order', 'orders', 'the', 'of', 'delivery', 'delivered', 'customer', "customer's", 'ZX-99812'];
const QUERIES = ['refunds', 'refund policy', 'running orders', 'ZX-99812 delivered'];

/** Deterministic texts mixing inflected forms, stop words and an identifier. */
function corpus(n: number): string[] {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: n }, () => Array.from({ length: 3 + (next() % 9) }, () => WORDS[next() % WORDS.length]).join(' '));
}

interface Hit {
  id: string;
  score: number;
}

/**
 * Real API processes: A drives the rebuild of the entity's postings for
 * `english` and is killed (SIGKILL) in the middle of it; B, which answers
 * every search, resumes the run where A's last committed batch left it.
 */
describe('an analyzer change under live searches, its driver killed mid-rebuild', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];

  test.beforeAll(async ({ db: d, prefix: p }) => {
    [db, prefix] = [d, p];
  });
  afterAll(async () => {
    await stopAll(children);
  });

  it('answers for the old analyzer until the switch and for the new one after it; another process resumes the run', async () => {
    const env = { KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled', KDB_ANALYZER_BATCH: '10' };
    // startTogether stops the other when one start fails: neither is left behind.
    const [a, b] = await startTogether(() => startApiProcess(env), () => startApiProcess(env));
    children.push(a, b);
    const call = async (url: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const json = (await res.json()) as any;
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    await call(b.url, 'POST', '/v1/entities', { name: 'notes', fields: { text: 'text' }, embedFields: ['text'] });
    const texts = corpus(1200);
    const { ids } = await call(b.url, 'POST', '/v1/entities/notes/records', texts.map((text) => ({ text })));
    const docs = (analyzer: 'simple' | 'english'): RefDoc[] => ids.map((id: string, i: number) => ({ id, entity: 'notes', analyzer, text: `text: ${texts[i]}` }));
    const expected = (analyzer: 'simple' | 'english') => new Map(QUERIES.map((q) => [q, refSearch(docs(analyzer), q, 10)]));
    const old = expected('simple');
    const next = expected('english');
    for (const q of QUERIES) expect(old.get(q)!.map((h) => h.id), q).not.toEqual(next.get(q)!.map((h) => h.id));
    const same = (got: Hit[], want: Hit[]) => got.length === want.length && got.every((h, i) => h.id === want[i]!.id && Math.abs(h.score - want[i]!.score) < 1e-6);

    const patched = await call(a.url, 'PATCH', '/v1/entities/notes', { analyzer: 'english' });
    expect(patched.analyzer).toBe('simple');
    expect(patched.analyzerChange).toEqual({ to: 'english', runId: patched.analyzerRun.id });
    const runId: string = patched.analyzerRun.id;
    const run = (): Promise<AnalyzerRun> => call(b.url, 'GET', `/v1/analyzer-runs/${runId}`);

    let killed = false;
    let sawNew = false;
    const counts = { before: 0, after: 0, either: 0 };
    for (let i = 0; ; i++) {
      const before = await run();
      const q = QUERIES[i % QUERIES.length]!;
      const answer = await call(b.url, 'GET', `/v1/search?q=${encodeURIComponent(q)}&entities=notes&mode=keyword&limit=10`);
      const after = await run();
      const isOld = same(answer.results, old.get(q)!);
      const isNew = same(answer.results, next.get(q)!);
      // Switched before the search started: new. Not switched once it ended: old. In between: one of the two.
      if (before.state !== 'running') {
        expect(isNew, `answer ${i} (${q}) after the switch`).toBe(true);
        counts.after++;
      } else if (after.state === 'running') {
        expect(isOld, `answer ${i} (${q}) before the switch`).toBe(true);
        counts.before++;
      } else {
        expect(isOld || isNew, `answer ${i} (${q}) during the switch`).toBe(true);
        counts.either++;
      }
      // Once an answer is new, none is old again.
      if (sawNew) expect(isNew, `answer ${i} (${q}) after a new one`).toBe(true);
      sawNew ||= isNew && !isOld;
      if (!killed && after.state === 'running' && after.processed >= 100) {
        expect(after.driver).toBe(`${hostname()}:${a.proc.pid}`);
        a.kill('SIGKILL');
        expect(await a.exited).toBe('SIGKILL');
        killed = true;
      }
      if (after.state === 'completed' && counts.after >= QUERIES.length) break;
      if (i > 5000) throw new Error(`the run did not complete: ${JSON.stringify(after)}`);
    }
    expect(killed).toBe(true);
    expect(counts.before).toBeGreaterThan(0);
    const done = await run();
    expect(done).toMatchObject({ state: 'completed', from: 'simple', to: 'english', total: 1200, driver: `${hostname()}:${b.proc.pid}` });
    // Batches are committed with their progress: the ones A committed are not done again.
    expect(done.processed).toBe(1200);
    const entity = await call(b.url, 'GET', '/v1/entities/notes');
    expect(entity).toMatchObject({ analyzer: 'english', analyzerChange: null });
  });
});
