import { expect } from 'vitest';
import { test } from '../fixtures.js';

test.override('apiEnv', { KDB_API_KEY: 'fixture-key-0123456789abcdef' });

test.beforeAll(async ({ db }) => {
  await db.pool.query('SELECT 1');
});

test('the API fixture serves on the file database with the overridden key', async ({ call, db, prefix }) => {
  expect(prefix).toMatch(/^\{kdbt-/);
  expect((await call('POST', '/v1/entities', { name: 'probe', fields: { t: 'text' }, embedFields: ['t'] })).status).toBe(201);
  expect((await db.pool.query('SELECT name FROM kdb_entities')).rows).toEqual([{ name: 'probe' }]);
  expect((await call('GET', '/v1/entities', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
});

test('a second test gets the same file fixtures', async ({ call }) => {
  expect((await call('GET', '/v1/entities')).body.entities).toHaveLength(1);
});
