import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { Pipeline } from '../../../test-support/startPipeline.js';

/** Bodies built by JSON.parse, so `__proto__` is a key as it is on the wire. */
const wire = (json: string) => JSON.parse(json) as unknown;

describe('built-in names and unstorable strings through a real API', () => {
  let p: Pipeline;

  test.beforeAll(async ({ pipeline }) => {
    p = pipeline;
    await p.call('POST', '/v1/entities', { name: 'pp', fields: { title: 'text', meta: 'json' }, embedFields: ['title'] });
    // As an earlier version stored them: a declared `toString` embed field, and an undeclared `constructor` one.
    await p.db.pool.query(`INSERT INTO kdb_entities (name, fields, embed_fields) VALUES ('legacy', '{"toString":"text","title":"text"}', '{toString,constructor,title}')`);
  }, 60_000);

  const records = async (entity: string) => Number((await p.db.pool.query('SELECT count(*) FROM kdb_records WHERE entity = $1', [entity])).rows[0].count);

  it('answers 400 naming the name for built-ins in entity create and patch, and writes nothing', async () => {
    for (const body of [
      { name: 'e1', fields: { toString: 'text' }, embedFields: ['toString'] },
      { name: 'e2', fields: { title: 'text' }, embedFields: ['constructor'] },
      wire('{"name":"e3","fields":{"__proto__":"text","title":"text"},"embedFields":["title"]}'),
      { name: 'constructor', fields: { title: 'text' }, embedFields: ['title'] },
    ]) {
      const r = await p.call('POST', '/v1/entities', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      // `__proto__` is refused by the API's JSON check before the entity rules see it.
      expect(r.body.error.message).toMatch(/(field name|embed field|entity name) "(toString|constructor|__proto__)" is refused|the key "__proto__" is not allowed/);
    }
    const patch = await p.call('PATCH', '/v1/entities/legacy', { embedFields: ['toString'] });
    expect(patch.status).toBe(400);
    expect(patch.body.error.message).toContain('embed field "toString" is refused');
    const { rows } = await p.db.pool.query(`SELECT name FROM kdb_entities WHERE name <> 'pp' AND name <> 'legacy'`);
    expect(rows).toEqual([]);
    expect((await p.call('GET', '/v1/reindex')).body.runs).toEqual([]);
  });

  it('inserts into an entity stored with built-in names (was 500), and refuses built-in keys as unknown fields', async () => {
    const ok = await p.call('POST', '/v1/entities/legacy/records', [{ toString: 'alpha', title: 'one' }, { title: 'two' }]);
    expect(ok.status).toBe(202);
    expect(ok.body.count).toBe(2);
    for (const json of ['{"title":"x","__proto__":null}', '{"title":"x","constructor":"y"}', '{"title":"x","hasOwnProperty":null}']) {
      const r = await p.call('POST', '/v1/entities/pp/records', wire(json));
      expect(r.status, json).toBe(400);
      expect(r.body.error.message).toMatch(/unknown field "(constructor|hasOwnProperty)" for entity "pp"|the key "__proto__" is not allowed/);
      expect(r.body.error.message).not.toContain('native code');
    }
    expect(await records('pp')).toBe(0);
  });

  it('answers 400 naming record and field for NUL and lone surrogates in records, patches and where (was 500)', async () => {
    const bad = [
      ['POST', '/v1/entities/pp/records', [{ title: 'fine' }, { title: 'nul \u0000' }], /body\[1\]\.title: holds a NUL/],
      ['POST', '/v1/entities/pp/records', { title: 'x', meta: { deep: ['\ud800'] } }, /body\.meta\.deep\[0\]: holds a lone UTF-16 surrogate/],
    ] as const;
    for (const [method, path, body, message] of bad) {
      const r = await p.call(method, path, body);
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(message);
    }
    expect(await records('pp')).toBe(0);
    const created = await p.call('POST', '/v1/entities/pp/records', { title: 'patch target' });
    const id = created.body.ids[0];
    const patched = await p.call('PATCH', `/v1/entities/pp/records/${id}`, { title: 'x\u0000' });
    expect(patched.status).toBe(400);
    expect(patched.body.error.message).toMatch(/body\.title: holds a NUL/);
    expect((await p.call('GET', `/v1/entities/pp/records/${id}`)).body.data).toEqual({ title: 'patch target' });
    const search = await p.call('POST', '/v1/search', { q: 'patch', entities: ['pp'], mode: 'keyword', where: { title: 'a\u0000' } });
    expect(search.status).toBe(400);
    expect(search.body.error.message).toMatch(/body\.where\.title: holds a NUL/);
  });
});
