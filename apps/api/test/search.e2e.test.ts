import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../../../test-support/startPipeline.js';

interface Hit {
  entity: string;
  id: string;
  score: number;
  data: Record<string, unknown>;
  content: string;
  explain?: { keyword?: { rank: number; score: number; rrf: number }; vector?: { rank: number; score: number; rrf: number } };
}

const FILLER = Array.from({ length: 150 }, (_, i) => `filler${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`).join(' ');

describe('hybrid search through the API', () => {
  let p: Pipeline;
  let call: Pipeline['call'];
  let apiUrl: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    p = await startPipeline({ workers: 1, openai: true });
    call = p.call;
    apiUrl = p.api.url;
    // A "semantic" stand-in: car is embedded as automobile.
    p.fake!.aliases = { car: 'automobile' };
    await call('POST', '/v1/entities', { name: 'parts', fields: { title: 'text', status: 'string' }, embedFields: ['title'] });
    await call('POST', '/v1/entities', { name: 'tickets', fields: { title: 'text', status: 'string', n: 'integer' }, embedFields: ['title'] });
    const parts = [
      { title: `Warranty claim ZX-4411 ${FILLER}`, status: 'closed' },
      { title: 'car', status: 'closed' },
      ...Array.from({ length: 30 }, (_, i) => ({ title: `automobile notes ${FILLER.split(' ')[i]}`, status: 'closed' })),
    ];
    const res = await call('POST', '/v1/entities/parts/records?wait=true', parts);
    ids.identifier = res.body.ids[0];
    ids.synonym = res.body.ids[1];
    const tickets = Array.from({ length: 600 }, (_, i) => ({ title: `ticket about automobile engine ${FILLER.split(' ')[i % 150]}`, status: i % 30 === 0 ? 'open' : 'closed', n: i }));
    expect((await call('POST', '/v1/entities/tickets/records?wait=true', tickets)).body.counts.ready).toBe(600);
  });
  afterAll(() => p.close());

  it('returns, in one list, a document only keyword search finds (an identifier) and one only vector search finds', async () => {
    const res = await call<{ results: Hit[]; mode: string; count: number; took_ms: number }>('GET', `/v1/search?q=${encodeURIComponent('automobile ZX-4411')}&entity=parts&limit=30&window=20&explain=true`);
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('hybrid');
    const byId = new Map(res.body.results.map((r) => [r.id, r]));
    const identifier = byId.get(ids.identifier!)!;
    const synonym = byId.get(ids.synonym!)!;
    expect(identifier.explain).toMatchObject({ keyword: { rank: 1 } });
    expect(identifier.explain!.vector).toBeUndefined();
    expect(synonym.explain).toMatchObject({ vector: { rank: 1 } });
    expect(synonym.explain!.keyword).toBeUndefined();
    expect(synonym.content).toBe('title: car');
    // Scores are RRF sums, in descending order.
    for (const r of res.body.results) expect(r.score).toBeCloseTo((r.explain!.keyword?.rrf ?? 0) + (r.explain!.vector?.rrf ?? 0), 12);
    const scores = res.body.results.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Every answer is new (took_ms), so none carries an ETag to revalidate against.
    const raw = await fetch(`${apiUrl}/v1/search?q=car&entity=parts`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('etag')).toBeNull();
  });

  it('explains: statistics, timings of each step, and the plans of both retrievers', async () => {
    const res = await call('POST', '/v1/search', { q: 'automobile engine', entity: 'tickets', explain: true });
    const ex = res.body.explain;
    // tickets is one entity of two: the vector statement runs in a transaction (vector_settings).
    expect(Object.keys(ex.timings_ms).sort()).toEqual(
      ['embed_query', 'entities', 'fetch', 'fusion', 'keyword', 'query_vector', 'retrievers', 'route', 'segment_catalog', 'space', 'vector', 'vector_execution', 'vector_planning', 'vector_scan_hot', 'vector_scan_segments', 'vector_settings'].sort(),
    );
    expect(ex.bm25).toMatchObject({ k1: 1.2, b: 0.75, documents: 600 });
    expect(ex.plans.keyword).toMatch(/Index Only Scan using kdb_postings_impact_idx/);
    // On 600 rows the planner may prefer an exact scan to the HNSW index; bench:search shows the index at 100k.
    expect(ex.plans.vector).toMatch(/on kdb_vectors_1 s[\s\S]*Execution Time/);
    expect(ex.plans.vector).toMatch(/Buffers: shared hit=/);
    expect(ex).toMatchObject({ window: 40, rrfK: 60, efSearch: 40 });
    // The keyword top-k was proved by pruning; the vector side says which segments it searched.
    expect(ex.keywordPruning).toMatchObject({ proved: true, rounds: expect.any(Number), candidates: expect.any(Number) });
    expect(ex.vectorSegments).toMatchObject({ sealed: expect.any(Array), hotAbove: expect.stringMatching(/^\d+$/) });
  });

  it('filters with where, still returning limit rows from a filtered vector search', async () => {
    for (const mode of ['vector', 'keyword', 'hybrid']) {
      const res = await call<{ results: Hit[] }>('POST', '/v1/search', { q: 'automobile engine', entity: 'tickets', mode, limit: 15, where: { status: 'open' } });
      expect(res.body.results).toHaveLength(15);
      expect(res.body.results.every((r) => r.data.status === 'open')).toBe(true);
    }
    const q = await call<{ results: Hit[] }>('GET', `/v1/search?q=automobile&entities=parts,tickets&mode=keyword&limit=100&where=${encodeURIComponent('{"status":"open"}')}`);
    expect(q.body.results).toHaveLength(20);
    expect(new Set(q.body.results.map((r) => r.entity))).toEqual(new Set(['tickets']));
    const both = await call<{ results: Hit[] }>('GET', '/v1/search?q=automobile&entities=parts,tickets&mode=vector&limit=100');
    expect(new Set(both.body.results.map((r) => r.entity))).toEqual(new Set(['parts', 'tickets']));
  });

  it('drops results under the threshold, by the mode\'s score', async () => {
    const all = await call<{ results: Hit[] }>('GET', '/v1/search?q=automobile%20engine&entity=tickets&mode=vector&limit=20');
    const cut = all.body.results[9]!.score;
    const res = await call<{ results: Hit[] }>('GET', `/v1/search?q=automobile%20engine&entity=tickets&mode=vector&limit=20&threshold=${cut}`);
    expect(res.body.results.length).toBeGreaterThanOrEqual(10);
    expect(res.body.results.every((r) => r.score >= cut)).toBe(true);
  });

  it('answers 400 naming the problem for bad input', async () => {
    const bad = async (path: string, body?: unknown) => {
      const r = await call(body === undefined ? 'GET' : 'POST', path, body);
      expect(r.status).toBe(400);
      return r.body.error.message as string;
    };
    expect(await bad('/v1/search?q=')).toMatch(/q: q must not be empty/);
    expect(await bad('/v1/search')).toMatch(/q: q is required/);
    expect(await bad('/v1/search?q=x&entity=nope')).toMatch(/entity "nope" does not exist; entities: parts, tickets/);
    expect(await bad(`/v1/search?q=x&entity=tickets&where=${encodeURIComponent('{"colour":"red"}')}`)).toMatch(/where: field "colour" is not a field of tickets/);
    expect(await bad('/v1/search?q=x&limit=0')).toMatch(/limit must be 1 to 100/);
    expect(await bad('/v1/search?q=x&limit=101')).toMatch(/limit must be 1 to 100/);
    expect(await bad(`/v1/search?q=x&where=${encodeURIComponent('{status:')}`)).toMatch(/where is not valid JSON/);
    expect(await bad('/v1/search?q=x&mode=fuzzy')).toMatch(/mode must be one of hybrid, vector, keyword/);
    expect(await bad('/v1/search', { q: 'x', where: { status: ['a'] } })).toMatch(/where/);
    const raw = await fetch(`${apiUrl}/v1/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"q": "x",',
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { message: string } }).error.message).toMatch(/body is not valid JSON/);
  });
});
