// Run only by leakCheck.test.ts, in a vitest of its own: tests that leave things open on purpose.
import http from 'node:http';
import { expect, it } from 'vitest';
import { createTestDatabase } from '../../testDatabase.js';

it('leaves a pool open', async () => {
  const db = await createTestDatabase();
  expect((await db.pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
});

it('leaves a server listening', async () => {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Kept from the collector, still listening when the test ends.
  (globalThis as Record<string, unknown>).leakedServer = server;
});

it('closes what it opens', async () => {
  const db = await createTestDatabase();
  await db.pool.query('SELECT 1');
  await db.close();
});
