import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';
import type { TestDatabase } from '../../../test-support/testDatabase.js';

/** An entity's analyzer through the API: hostile values refused with nothing written, one rebuild at a time, runs readable and cancellable. */
describe('entity analyzer', () => {
  let db: TestDatabase;
  let call: ReturnType<typeof jsonClient>;

  test.beforeAll(async ({ db: d, call: c }) => {
    [db, call] = [d, c];
  });

  const waitForState = async (id: string, state: string) => {
    for (let i = 0; i < 600; i++) {
      const r = await call('GET', `/v1/analyzer-runs/${id}`);
      if (r.body.state === state) return r.body;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`run ${id} never reached ${state}`);
  };

  it('creates with an analyzer, refuses unknown ones naming the allowed, and describes it', async () => {
    const bad = await call('POST', '/v1/entities', { name: 'Bad', fields: { t: 'text' }, embedFields: ['t'], analyzer: 'klingon' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('analyzer must be one of simple, english, german');
    expect((await db.pool.query(`SELECT 1 FROM kdb_entities WHERE name = 'Bad'`)).rowCount).toBe(0);
    const made = await call('POST', '/v1/entities', { name: 'Mail', fields: { t: 'text' }, embedFields: ['t'], analyzer: 'english' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ analyzer: 'english', analyzerChange: null });
    expect((await call('GET', '/v1/entities/Mail')).body).toMatchObject({ analyzer: 'english', analyzerChange: null });
    const plain = await call('POST', '/v1/entities', { name: 'Plain', fields: { t: 'text' }, embedFields: ['t'] });
    expect(plain.body.analyzer).toBe('simple');
    const patchBad = await call('PATCH', '/v1/entities/Plain', { analyzer: 'English' });
    expect(patchBad.status).toBe(400);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM kdb_analyzer_runs WHERE entity = 'Plain'`)).rows[0].n).toBe(0);
  });

  it('a PATCH starts a rebuild; the run completes, search uses the new analyzer, and a finished run cannot be cancelled', async () => {
    await call('POST', '/v1/entities', { name: 'Notes', fields: { t: 'text' }, embedFields: ['t'] });
    await call('POST', '/v1/entities/Notes/records', [{ t: 'refunded twice' }, { t: 'refunds pending' }, { t: 'unrelated text' }]);
    const before = await call('GET', '/v1/search?q=refund&entities=Notes&mode=keyword');
    expect(before.body.results).toEqual([]);
    const p = await call('PATCH', '/v1/entities/Notes', { analyzer: 'english' });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ analyzer: 'simple', analyzerChange: { to: 'english' }, analyzerRun: { entity: 'Notes', from: 'simple', to: 'english', total: 3 } });
    await waitForState(p.body.analyzerRun.id, 'completed');
    expect((await call('GET', '/v1/entities/Notes')).body).toMatchObject({ analyzer: 'english', analyzerChange: null });
    const after = await call('GET', '/v1/search?q=refund&entities=Notes&mode=keyword');
    expect(after.body.results.map((r: { content: string }) => r.content).sort()).toEqual(['t: refunded twice', 't: refunds pending']);
    const list = await call('GET', '/v1/analyzer-runs?entity=Notes');
    expect(list.body.runs[list.body.runs.length - 1].id).toBe(p.body.analyzerRun.id);
    const done = await call('POST', `/v1/analyzer-runs/${p.body.analyzerRun.id}/cancel`);
    expect(done.status).toBe(409);
  });

  it('unknown and malformed run ids are 404s', async () => {
    expect((await call('GET', '/v1/analyzer-runs/not-a-uuid')).status).toBe(404);
    expect((await call('GET', '/v1/analyzer-runs/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('POST', '/v1/analyzer-runs/00000000-0000-4000-8000-000000000000/cancel')).status).toBe(404);
    expect((await call('GET', '/v1/analyzer-runs?entity=x%27;drop')).status).toBe(400);
  });
});
