import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';
import { startApiProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { jsonClient, send } from '../../../test-support/http.js';

interface Answer {
  results: { id: string; content: string; entity: string }[];
  cached: boolean;
  count: number;
}
interface Quantiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
interface Period {
  searches: number;
  cacheHits: number;
  cacheHitRate: number | null;
  latencyMs: Quantiles;
  byMode: Record<'hybrid' | 'vector' | 'keyword', Quantiles>;
  byRetriever: Record<'keyword' | 'vector', Quantiles>;
}
interface Metrics {
  since: string;
  sinceStart: Period;
  last5m: Period;
  resultCache: { enabled: boolean; entries: number; bytes: number; maxEntries: number; maxBytes: number };
}

/** The value of a Prometheus sample line `name{labels} value` (labels in any order), or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

describe('result cache across two real API processes and a worker', () => {
  let p: Pipeline;
  let api2: ChildApp & { url: string };
  let call1: Pipeline['call'];
  let call2: ReturnType<typeof jsonClient>;
  const ids: Record<string, string> = {};
  const find = (call: typeof call1, query: string) => call<Answer>('GET', `/v1/search?${query}`);

  beforeAll(async () => {
    p = await startPipeline({ workers: 1 });
    call1 = p.call;
    api2 = await startApiProcess(p.env);
    call2 = jsonClient(api2.url);
    for (const name of ['parts', 'notes']) {
      expect((await call1('POST', '/v1/entities', { name, fields: { title: 'text' }, embedFields: ['title'] })).status).toBe(201);
    }
    const parts = await call1('POST', '/v1/entities/parts/records?wait=true', [{ title: 'brake pad front' }, { title: 'brake disc rear' }, { title: 'engine oil filter' }]);
    expect(parts.body.counts.ready).toBe(3);
    [ids.pad, ids.disc, ids.filter] = parts.body.ids;
    expect((await call1('POST', '/v1/entities/notes/records?wait=true', [{ title: 'brake noise note' }])).body.counts.ready).toBe(1);
  });
  afterAll(async () => {
    await stopAll([api2]);
    await p.close();
  });

  it('serves a repeated search from the cache; cache=false bypasses it; the answer says which', async () => {
    const q = 'q=brake&entity=parts&mode=keyword';
    const first = await find(call1, q);
    expect(first.status).toBe(200);
    expect(first.body.cached).toBe(false);
    const second = await find(call1, q);
    expect(second.body.cached).toBe(true);
    expect(second.body.results).toEqual(first.body.results);
    expect((await find(call1, `${q}&cache=false`)).body.cached).toBe(false);
    expect((await find(call1, `${q}&cache=0`)).body.cached).toBe(false);
    expect((await find(call1, `${q}&explain=true`)).body.cached).toBe(false);
    const posted = await call1<Answer>('POST', '/v1/search', { q: 'brake', entity: 'parts', mode: 'keyword' });
    expect(posted.body.cached).toBe(true);
    expect((await call1<Answer>('POST', '/v1/search', { q: 'brake', entity: 'parts', mode: 'keyword', cache: false })).body.cached).toBe(false);
  });

  it('cache=maybe is a 400 naming cache and what it allows', async () => {
    for (const res of [await find(call1, 'q=brake&cache=maybe'), await call1('POST', '/v1/search', { q: 'brake', cache: 'maybe' }), await call1('POST', '/v1/search', { q: 'brake', cache: 3 })]) {
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.error)).toMatch(/cache must be true or false/);
    }
  });

  it('after a PATCH through one process, the next search through the other is not cached and sees the change; likewise a DELETE', async () => {
    const q = 'q=brake&entity=parts&mode=keyword';
    await find(call2, q);
    expect((await find(call2, q)).body.cached).toBe(true);
    expect((await call1('PATCH', `/v1/entities/parts/records/${ids.pad}`, { title: 'brake brake caliper' })).status).toBe(200);
    const after = await find(call2, q);
    expect(after.body.cached).toBe(false);
    expect(after.body.results[0]).toMatchObject({ id: ids.pad, content: expect.stringContaining('caliper') });
    // The worker's vector write for the new text is a write to the entity too: once it has
    // landed, a search fills the cache and the next one is served from it.
    for (let i = 0; ; i++) {
      const rec = await call1<{ embedding: { status: string } }>('GET', `/v1/entities/parts/records/${ids.pad}`);
      if (rec.body.embedding.status === 'ready') break;
      if (i > 200) throw new Error(`record ${ids.pad} never became ready after its PATCH`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await find(call2, q);
    expect((await find(call2, q)).body.cached).toBe(true);

    expect((await call1('DELETE', `/v1/entities/parts/records/${ids.disc}`)).status).toBe(204);
    const deleted = await find(call2, q);
    expect(deleted.body.cached).toBe(false);
    expect(deleted.body.results.map((r) => r.id)).not.toContain(ids.disc);
  });

  it("a worker's vector write invalidates vector searches in another process", async () => {
    const q = 'q=gearbox%20housing&entity=parts&mode=vector&limit=10';
    // The PATCH of the test before re-embeds its record: that vector write would invalidate too.
    await vi.waitFor(
      async () => {
        const r = await call1('GET', `/v1/entities/parts/records/${ids.pad}`);
        expect(r.body.embedding.status).toBe('ready');
      },
      { timeout: 60_000, interval: 200 },
    );
    const before = await find(call2, q);
    expect((await find(call2, q)).body.cached).toBe(true);
    // Keyword-searchable at once, embedded later by the worker process.
    const inserted = await call1('POST', '/v1/entities/parts/records', [{ title: 'gearbox housing' }]);
    expect(inserted.status).toBe(202);
    const id = inserted.body.ids[0] as string;
    await vi.waitFor(
      async () => {
        const r = await call1('GET', `/v1/entities/parts/records/${id}`);
        expect(r.body.embedding.status).toBe('ready');
      },
      { timeout: 60_000, interval: 200 },
    );
    const after = await find(call2, q);
    expect(after.body.cached).toBe(false);
    expect(after.body.results.map((r) => r.id)).toContain(id);
    expect(before.body.results.map((r) => r.id)).not.toContain(id);
  });

  it('a search of notes stays cached after a write to parts', async () => {
    const q = 'q=brake&entity=notes&mode=hybrid';
    await find(call2, q);
    expect((await find(call2, q)).body.cached).toBe(true);
    expect((await call1('POST', '/v1/entities/parts/records?wait=true', [{ title: 'brake fluid' }])).status).toBe(200);
    expect((await find(call2, q)).body.cached).toBe(true);
    expect((await find(call2, 'q=brake&entity=parts&mode=hybrid')).body.cached).toBe(false);
  });

  it('GET /v1/search/metrics moves as searches happen, and /metrics has the same numbers', async () => {
    const m0 = (await call2<Metrics>('GET', '/v1/search/metrics')).body;
    expect(m0.resultCache).toMatchObject({ enabled: true, maxEntries: 1000, maxBytes: 64 * 1024 * 1024 });
    await find(call2, 'q=oil%20filter&entity=parts&mode=keyword'); // miss
    await find(call2, 'q=oil%20filter&entity=parts&mode=keyword'); // hit
    await find(call2, 'q=oil%20filter&entity=parts&mode=hybrid'); // miss, both retrievers
    await find(call2, 'q=oil%20filter&entity=parts&mode=vector&cache=false'); // bypass, vector only
    const m1 = (await call2<Metrics>('GET', '/v1/search/metrics')).body;
    for (const period of ['sinceStart', 'last5m'] as const) {
      const [a, b] = [m0[period], m1[period]];
      expect(b.searches - a.searches).toBe(4);
      expect(b.cacheHits - a.cacheHits).toBe(1);
      expect(b.byMode.keyword.count - a.byMode.keyword.count).toBe(2);
      expect(b.byMode.hybrid.count - a.byMode.hybrid.count).toBe(1);
      expect(b.byMode.vector.count - a.byMode.vector.count).toBe(1);
      expect(b.byRetriever.keyword.count - a.byRetriever.keyword.count).toBe(2);
      expect(b.byRetriever.vector.count - a.byRetriever.vector.count).toBe(2);
      expect(b.latencyMs.count).toBe(b.searches);
      for (const q of [b.latencyMs, b.byMode.keyword, b.byRetriever.vector]) {
        expect(q.p50).toBeGreaterThan(0);
        expect(q.p50!).toBeLessThanOrEqual(q.p95!);
        expect(q.p95!).toBeLessThanOrEqual(q.p99!);
      }
    }
    expect(m1.sinceStart.cacheHitRate).toBeCloseTo(m1.sinceStart.cacheHits / m1.sinceStart.searches, 4);
    expect(m1.resultCache.entries).toBeGreaterThan(m0.resultCache.entries);

    const prom = (await send(api2.url, 'GET', '/metrics')).body as string;
    for (const mode of ['hybrid', 'vector', 'keyword'] as const) expect(sample(prom, 'kdb_search_seconds_count', { mode })).toBe(m1.sinceStart.byMode[mode].count);
    for (const r of ['keyword', 'vector'] as const) expect(sample(prom, 'kdb_search_retriever_seconds_count', { retriever: r })).toBe(m1.sinceStart.byRetriever[r].count);
    expect(sample(prom, 'kdb_result_cache_hits_total')).toBe(m1.sinceStart.cacheHits);
    expect(sample(prom, 'kdb_result_cache_misses_total')).toBeGreaterThanOrEqual(2);
    expect(sample(prom, 'kdb_result_cache_entries')).toBe(m1.resultCache.entries);
    expect(prom).toMatch(/^kdb_result_cache_evictions_total\{[^}]*\} 0$/m);
  });
});
