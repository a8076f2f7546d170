import type pg from 'pg';
import { createEntity, createPool, SearchEngine } from '@kameleondb/core';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

export interface SearchDatabase {
  db: TestDatabase;
  /** A pool with the search engine's session settings, as the API's. */
  pool: pg.Pool;
  close(): Promise<void>;
}

/** A test database with one entity `docs` (`text` embedded) and a search pool on it. */
export async function createSearchDatabase(): Promise<SearchDatabase> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, sessionSql: SearchEngine.sessionSql() });
  await createEntity(db.pool, { name: 'docs', fields: { text: 'text' }, embedFields: ['text'] });
  return {
    db,
    pool,
    async close() {
      await pool.end();
      await db.close();
    },
  };
}
