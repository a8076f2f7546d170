import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiProcess, stopAll, type ChildApp } from '../../../test-support/processes.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { obliterateQueues, testPrefix } from '../../../test-support/queuePrefix.js';
import { redisUrl } from '../../../test-support/urls.js';

describe('API process killed in the middle of an ingest', () => {
  let db: TestDatabase;
  let prefix: string;
  const children: ChildApp[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = testPrefix();
  });
  afterAll(async () => {
    await stopAll(children);
    await obliterateQueues(prefix);
    await db.close();
  });

  it('leaves nothing half-written: the records of the request are all there or none', async () => {
    const api = await startApiProcess({ KDB_DATABASE_URL: db.url, KDB_REDIS_URL: redisUrl(), KDB_QUEUE_PREFIX: prefix, KDB_AUTH: 'disabled' });
    children.push(api);
    const json = { 'content-type': 'application/json' };
    await fetch(`${api.url}/v1/entities`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'big', fields: { t: 'text' }, embedFields: ['t'] }) });
    const body = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ t: `row ${i}` })).join('\n');
    const request = fetch(`${api.url}/v1/entities/big/records`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body }).catch((e: unknown) => e);

    // Wait until the API's ingest transaction has written some rows, then kill it.
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    const deadline = Date.now() + 60_000;
    for (;;) {
      // backend_xid is set once the transaction has written a row.
      const { rows } = await watcher.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'kameleondb-api' AND backend_xid IS NOT NULL`,
      );
      if (rows[0].n > 0) break;
      if (Date.now() > deadline) throw new Error('never saw the ingest transaction');
      await new Promise((r) => setTimeout(r, 2));
    }
    api.kill('SIGKILL');
    expect(await api.exited).toBe('SIGKILL');
    expect(await request).toBeInstanceOf(Error);
    // The server notices the dead client and rolls its transaction back.
    let records = -1;
    for (let i = 0; i < 100; i++) {
      const { rows } = await watcher.query(`SELECT (SELECT count(*) FROM kdb_records)::int AS r, (SELECT count(*) FROM kdb_search)::int AS s,
        (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kameleondb-api' AND datname = current_database())::int AS live`);
      if (rows[0].live === 0) {
        records = rows[0].r;
        expect(rows[0].s).toBe(records);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await watcher.end();
    expect(records).toBe(0);
  });
});
