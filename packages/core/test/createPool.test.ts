import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '@kameleondb/core';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

describe('createPool sessionSql', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.close());

  // bench:search once sent its session settings from an unawaited 'connect'
  // listener: the first query of each new connection ran without them, and a
  // pool ended right after such a query cut the settings off in flight (an
  // unhandled "Connection terminated" that ended the process).
  it('applies the settings before the first query of every new connection, and leaves nothing in flight for end()', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (let round = 0; round < 5; round++) {
        const pool = createPool({ connectionString: db.url, max: 3, sessionSql: ["SET work_mem = '77MB'", "SET application_name = 'kdb-session-test'"] });
        // Three at once: three new connections, each with its first query.
        const seen = await Promise.all(
          Array.from({ length: 3 }, () => pool.query<{ work_mem: string; app: string }>(`SELECT current_setting('work_mem') AS work_mem, current_setting('application_name') AS app`)),
        );
        await pool.end();
        expect(seen.map((r) => r.rows[0])).toEqual(Array.from({ length: 3 }, () => ({ work_mem: '77MB', app: 'kdb-session-test' })));
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
