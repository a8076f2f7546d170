import { describe, expect, it } from 'vitest';
import { test } from '../../../test-support/fixtures.js';
import type { jsonClient } from '../../../test-support/http.js';

/** Longest common prefix of two ids' text forms. */
const common = (a: string, b: string) => {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i += 1;
  return a.slice(0, i);
};

/** Record ids in paths may be unique prefixes, as KameleonDB's CLI takes them (issue 20). */
describe('record id prefixes in paths', () => {
  let call: ReturnType<typeof jsonClient>;
  let ids: string[];

  test.beforeAll(async ({ call: c }) => {
    call = c;
    await call('POST', '/v1/entities', { name: 'Note', fields: { t: 'text' }, embedFields: ['t'] });
    await call('POST', '/v1/entities', { name: 'Other', fields: { t: 'text' }, embedFields: ['t'] });
    // UUIDv7 ids of one request share their time prefix.
    ids = (await call('POST', '/v1/entities/Note/records', [{ t: 'one' }, { t: 'two' }, { t: 'three' }])).body.ids;
  });

  it('reads, patches and deletes by a unique prefix, any case, with or without dashes', async () => {
    const id = ids[0]!;
    const unique = id.slice(0, common(id, ids[1]!).length + 3);
    expect((await call('GET', `/v1/entities/Note/records/${unique}`)).body).toMatchObject({ id, data: { t: 'one' } });
    expect((await call('GET', `/v1/entities/Note/records/${unique.toUpperCase()}`)).body.id).toBe(id);
    expect((await call('GET', `/v1/entities/Note/records/${unique.replace(/-/g, '')}`)).body.id).toBe(id);
    const patched = await call('PATCH', `/v1/entities/Note/records/${unique}`, { t: 'uno' });
    expect(patched.body).toMatchObject({ id, data: { t: 'uno' }, reembed: true });
    // The whole id keeps working, as before.
    expect((await call('GET', `/v1/entities/Note/records/${id}`)).body.data).toEqual({ t: 'uno' });
    expect((await call('DELETE', `/v1/entities/Note/records/${ids[2]!.slice(0, common(ids[2]!, ids[1]!).length + 3)}`)).status).toBe(204);
    expect((await call('GET', `/v1/entities/Note/records/${ids[2]}`)).status).toBe(404);
  });

  it('answers 409 ambiguous_id with the candidates for a prefix of several records, and changes nothing', async () => {
    const shared = common(ids[0]!, ids[1]!);
    expect(shared.replace(/-/g, '').length).toBeGreaterThanOrEqual(4);
    const r = await call('PATCH', `/v1/entities/Note/records/${shared}`, { t: 'changed' });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('ambiguous_id');
    expect(r.body.error.message).toMatch(new RegExp(`^id prefix "${shared}" matches several records of entity "Note" \\(`));
    expect(r.body.error.details).toMatchObject({ entity: 'Note', prefix: shared });
    expect([...r.body.error.details.candidates].sort()).toEqual([ids[0], ids[1]].sort());
    expect((await call('GET', `/v1/entities/Note/records/${ids[0]}`)).body.data).toEqual({ t: 'uno' });
    expect((await call('DELETE', `/v1/entities/Note/records/${shared}`)).status).toBe(409);
  });

  it('answers 404 naming a prefix that matches nothing, is too short, malformed or of another entity', async () => {
    const none = await call('GET', '/v1/entities/Note/records/ffffffff-ff');
    expect(none.status).toBe(404);
    expect(none.body.error.message).toBe('record "ffffffff-ff" of entity "Note" does not exist');
    for (const bad of ['abc', 'not-a-uuid', `${ids[0]!.slice(0, 5)}-`, `${ids[0]}0`]) {
      const r = await call('GET', `/v1/entities/Note/records/${bad}`);
      expect(r.status).toBe(404);
      expect(r.body.error.message).toMatch(/does not exist \(an id is a UUID or a unique prefix of at least 4 hex characters\)/);
    }
    // A prefix is looked up within the entity of the path.
    expect((await call('GET', `/v1/entities/Other/records/${ids[0]!.slice(0, 13)}`)).status).toBe(404);
  });
});
