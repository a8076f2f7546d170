import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import {
  createEntity,
  entityInputSchema,
  entityPatchSchema,
  getEntity,
  getRecord,
  ingestRecords,
  MAX_JSON_DEPTH,
  patchRecord,
  HashProvider,
  SearchEngine,
  updateEntity,
  ValidationError,
  type EmbedJobData,
  type Entity,
} from '@kameleondb/core';
import { MAX_FIELD_CHARS, validateRecord } from '../src/entities/validateRecord.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { createTestEmbedQueue } from '../../../test-support/testEmbedQueue.js';

const BUILTINS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

/** The error a call throws, or fails the test when it throws none. */
async function errorOf(fn: () => unknown): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, none was thrown');
}

const issuesOf = (r: { success: boolean; error?: { issues: { message: string }[] } }) => (r.error?.issues ?? []).map((i) => i.message).join('\n');

describe('entity and field names that are object built-ins', () => {
  it('are refused at create, naming the name, whether used as entity, field or embed field', () => {
    for (const name of BUILTINS) {
      // JSON.parse makes `__proto__` an own key, as an HTTP body would.
      const asField = entityInputSchema.safeParse(JSON.parse(`{"name":"e","fields":{"${name}":"text","title":"text"},"embedFields":["title"]}`));
      expect(asField.success, name).toBe(false);
      expect(issuesOf(asField)).toContain(`field name "${name}" is refused`);
      const asEmbed = entityInputSchema.safeParse({ name: 'e', fields: { title: 'text' }, embedFields: [name] });
      expect(asEmbed.success, name).toBe(false);
      expect(issuesOf(asEmbed)).toContain(`embed field "${name}" is refused`);
      expect(issuesOf(asEmbed)).not.toContain('native code');
    }
    const entity = entityInputSchema.safeParse({ name: 'constructor', fields: { title: 'text' }, embedFields: ['title'] });
    expect(issuesOf(entity)).toContain('entity name "constructor" is refused');
    expect(entityInputSchema.safeParse({ name: 'e', fields: { title: 'text', toString2: 'text' }, embedFields: ['toString2'] }).success).toBe(true);
  });

  it('are refused in a PATCH of fields or embedFields', () => {
    for (const name of BUILTINS) {
      const asEmbed = entityPatchSchema.safeParse({ embedFields: [name] });
      expect(issuesOf(asEmbed), name).toContain(`embed field "${name}" is refused`);
      const asField = entityPatchSchema.safeParse(JSON.parse(`{"fields":{"${name}":"text"}}`));
      expect(issuesOf(asField), name).toContain(`field name "${name}" is refused`);
    }
  });
});

describe('records as prototype-less data', () => {
  let db: TestDatabase;
  let queue: Queue<EmbedJobData>;
  let closeQueue: () => Promise<void>;
  let notes: Entity;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ queue, close: closeQueue } = createTestEmbedQueue());
    notes = await createEntity(db.pool, { name: 'notes', fields: { title: 'text', meta: 'json', n: 'integer' }, embedFields: ['title'] });
  });
  afterAll(async () => {
    await closeQueue();
    await db.close();
  });

  const ingest = (entity: Entity, values: unknown[]) =>
    ingestRecords({ pool: db.pool, queue, entity, records: values.map((value, i) => ({ value, where: `records[${i}]` })) });
  const count = async (entity: string) => Number((await db.pool.query('SELECT count(*) FROM kdb_records WHERE entity = $1', [entity])).rows[0].count);

  it('refuses undeclared built-in keys, with null or any value, as unknown fields', async () => {
    for (const name of BUILTINS) {
      for (const value of ['null', '"x"', '{}', '1']) {
        const record = JSON.parse(`{"title":"t","${name}":${value}}`);
        const err = await errorOf(() => validateRecord(notes, record, 'records[0]'));
        expect(err, `${name}: ${value}`).toBeInstanceOf(ValidationError);
        expect(err.message).toContain(`records[0]: unknown field "${name}" for entity "notes"`);
        expect(err.message).not.toContain('native code');
      }
    }
    await expect(ingest(notes, [{ title: 'ok' }, JSON.parse('{"__proto__":null}')])).rejects.toThrow(/records\[1\]: unknown field "__proto__"/);
    expect(await count('notes')).toBe(0);
  });

  it('returns only the record\'s own fields, in an object without prototype', () => {
    const valid = validateRecord(notes, JSON.parse('{"title":"a","n":1}'), 'body');
    expect(Object.getPrototypeOf(valid)).toBe(null);
    expect(Object.keys(valid)).toEqual(['title', 'n']);
  });

  it('ingests into entities stored with built-in names before they were refused', async () => {
    // Rows as the old code wrote them: a declared `toString` field, and an
    // embed field `constructor` that the `in` check let through undeclared.
    await db.pool.query(
      `INSERT INTO kdb_entities (name, fields, embed_fields) VALUES
         ('legacy', '{"toString":"text","title":"text"}', '{toString,title}'),
         ('ghost', '{"title":"text"}', '{constructor,title}')`,
    );
    const legacy = await getEntity(db.pool, 'legacy');
    const ghost = await getEntity(db.pool, 'ghost');
    const a = await ingest(legacy, [{ toString: 'alpha text', title: 'one' }, { title: 'two' }]);
    const b = await ingest(ghost, [{ title: 'three' }]);
    const content = async (id: string) => (await db.pool.query('SELECT content FROM kdb_search WHERE record_id = $1', [id])).rows[0].content;
    expect(await content(a.ids.at(0)!)).toBe('toString: alpha text | title: one');
    expect(await content(a.ids.at(1)!)).toBe('title: two');
    expect(await content(b.ids.at(0)!)).toBe('title: three');
    await expect(ingest(ghost, [{ title: 'x', constructor: 'y' }])).rejects.toThrow(/unknown field "constructor"/);
  });

  it('refuses a PATCH of embedFields to a built-in name before writing anything', async () => {
    await db.pool.query(`INSERT INTO kdb_entities (name, fields, embed_fields) VALUES ('legacy2', '{"toString":"text","title":"text"}', '{title}')`);
    const before = await getEntity(db.pool, 'legacy2');
    for (const name of ['toString', 'constructor', '__proto__']) {
      const err = await errorOf(() => updateEntity(db.pool, 'legacy2', { embedFields: [name] }));
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain(`embed field "${name}" is refused`);
    }
    const err = await errorOf(() => updateEntity(db.pool, 'legacy2', JSON.parse('{"fields":{"__proto__":"text"}}')));
    expect(err.message).toContain('field name "__proto__" is refused');
    expect(await getEntity(db.pool, 'legacy2')).toEqual(before);
  });
});

describe('record values Postgres cannot store, and size limits', () => {
  let db: TestDatabase;
  let queue: Queue<EmbedJobData>;
  let closeQueue: () => Promise<void>;
  let docs: Entity;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ queue, close: closeQueue } = createTestEmbedQueue());
    docs = await createEntity(db.pool, { name: 'docs', fields: { title: 'text', meta: 'json', at: 'datetime' }, embedFields: ['title'] });
  });
  afterAll(async () => {
    await closeQueue();
    await db.close();
  });

  const ingest = (values: unknown[]) => ingestRecords({ pool: db.pool, queue, entity: docs, records: values.map((value, i) => ({ value, where: `records[${i}]` })) });
  const count = async () => Number((await db.pool.query(`SELECT count(*) FROM kdb_records WHERE entity = 'docs'`)).rows[0].count);

  it('refuses NUL characters and lone surrogates in strings, json values and json keys, naming record and field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ title: 'a\u0000b' }, /records\[1\]: field "title" holds a NUL character/],
      [{ title: 'bad \ud800 high' }, /records\[1\]: field "title" holds a lone UTF-16 surrogate/],
      [{ title: 'bad \udc00 low' }, /records\[1\]: field "title" holds a lone UTF-16 surrogate/],
      [{ at: '2024-01-01\u0000' }, /records\[1\]: field "at" holds a NUL/],
      [{ meta: { a: [1, { b: 'x\u0000' }] } }, /records\[1\]: field "meta": a string holds a NUL character .* at meta\."a"\[1\]\."b"/],
      [{ meta: { 'k\u0000': 1 } }, /records\[1\]: field "meta": a key holds a NUL/],
      [{ meta: ['\udfff'] }, /records\[1\]: field "meta": a string holds a lone UTF-16 surrogate .* at meta\[0\]/],
      [{ meta: 'top \u0000' }, /records\[1\]: field "meta" holds a NUL/],
    ];
    for (const [bad, message] of cases) {
      await expect(ingest([{ title: 'fine' }, bad])).rejects.toThrow(message);
    }
    expect(await count()).toBe(0);
    // Paired surrogates (emoji) and other control characters are fine.
    const ok = await ingest([{ title: 'smile 😀 tab\tend', meta: { k: '😀' } }]);
    expect(ok.ids).toHaveLength(1);
  });

  it('refuses the same in a PATCH and leaves the record as it was', async () => {
    const { ids } = await ingest([{ title: 'patch me', meta: { a: 1 } }]);
    const before = await getRecord(db.pool, 'docs', ids.at(0)!);
    await expect(patchRecord(db.pool, docs, ids.at(0)!, { title: 'x\u0000' })).rejects.toThrow(/body: field "title" holds a NUL/);
    await expect(patchRecord(db.pool, docs, ids.at(0)!, { meta: { b: '\ud83d' } })).rejects.toThrow(/body: field "meta": a string holds a lone UTF-16 surrogate/);
    await expect(patchRecord(db.pool, docs, ids.at(0)!, JSON.parse('{"constructor":null}'))).rejects.toThrow(/body: unknown field "constructor"/);
    expect(await getRecord(db.pool, 'docs', ids.at(0)!)).toEqual(before);
  });

  it('refuses a search whose where holds a string Postgres cannot store, or names a built-in as a field', async () => {
    await ingest([{ title: 'where probe' }]);
    const engine = new SearchEngine({ pool: db.pool, provider: new HashProvider() });
    const search = (where: Record<string, string>) => engine.search({ q: 'probe', entities: ['docs'], mode: 'keyword', limit: 5, where });
    await expect(search({ title: 'a\u0000' })).rejects.toThrow(/where: the value of field "title" holds a NUL character/);
    await expect(search({ title: '\ud800' })).rejects.toThrow(/where: the value of field "title" holds a lone UTF-16 surrogate/);
    await expect(search({ constructor: 'x' })).rejects.toThrow(/where: field "constructor" is not a field of docs/);
    await expect(search(JSON.parse('{"__proto__":"x"}'))).rejects.toThrow(/where: field "__proto__" is not a field of docs/);
    expect((await search({ title: 'where probe' })).results).toHaveLength(1);
  });

  it(`refuses field values past ${MAX_FIELD_CHARS} characters or json nested past ${MAX_JSON_DEPTH}, naming record, field and limit`, async () => {
    const stored = await count();
    await expect(ingest([{ title: 'x'.repeat(MAX_FIELD_CHARS + 1) }])).rejects.toThrow(
      new RegExp(`records\\[0\\]: field "title" is too long: ${MAX_FIELD_CHARS + 1} characters, the limit is ${MAX_FIELD_CHARS}`),
    );
    await expect(ingest([{ meta: { big: ['y'.repeat(MAX_FIELD_CHARS / 2), 'z'.repeat(MAX_FIELD_CHARS / 2)] } }])).rejects.toThrow(
      new RegExp(`records\\[0\\]: field "meta" is too large: a json value may hold at most ${MAX_FIELD_CHARS} characters`),
    );
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    await expect(ingest([{ meta: deep }])).rejects.toThrow(/records\[0\]: field "meta": nesting deeper than 64 levels/);
    expect(await count()).toBe(stored);
    // At the limit it is stored and indexed, within a bounded time (the tokenizer is linear).
    const started = Date.now();
    const { ids } = await ingest([{ title: 'w'.repeat(MAX_FIELD_CHARS) }]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ids).toHaveLength(1);
  });
});
