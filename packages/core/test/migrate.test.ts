import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, pendingMigrations, SchemaError } from '@kameleondb/core';
import { createEmptyDatabase } from '../../../test-support/testDatabase.js';
import { adminUrl } from '../../../test-support/urls.js';

describe('migrate', () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });

  it('applies the schema once when several processes start at the same time', async () => {
    const db = await createEmptyDatabase();
    drops.push(db.drop);
    const results = await Promise.all([1, 2, 3, 4].map(() => migrate({ connectionString: db.url, dimensions: 384 })));
    // Exactly one of them applied each migration; the others found it done.
    expect(results.flatMap((r) => r.applied).sort()).toEqual((await loadMigrations()).map((m) => m.version));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    expect(await pendingMigrations(c)).toEqual([]);
    const tables = await c.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'kdb_%' ORDER BY 1`);
    expect(tables.rows.map((r) => r.tablename)).toEqual(
      expect.arrayContaining(['kdb_embedding_cache', 'kdb_entities', 'kdb_migrations', 'kdb_records', 'kdb_reindex_runs', 'kdb_search', 'kdb_postings']),
    );
    const idx = await c.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'kdb_search_embedding_hnsw'`);
    expect(idx.rows[0].indexdef).toMatch(/USING hnsw \(embedding vector_cosine_ops\)/);
    await c.end();
    expect((await migrate({ connectionString: db.url, dimensions: 384 })).applied).toEqual([]);
  });

  it('refuses a provider whose dimension differs from the column, saying how to migrate', async () => {
    const db = await createEmptyDatabase();
    drops.push(db.drop);
    await migrate({ connectionString: db.url, dimensions: 384 });
    const err = await migrate({ connectionString: db.url, dimensions: 1536 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as Error).message).toMatch(/vector\(384\).*1536 dimensions.*KDB_EMBEDDING_DIMENSIONS=384.*ALTER TABLE kdb_search/s);
  });

  it('explains when the vector extension cannot be created', async () => {
    const db = await createEmptyDatabase();
    drops.push(db.drop);
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    await admin.query(`DO $$ BEGIN CREATE ROLE kdb_test_nopriv LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await admin.end();
    const u = new URL(db.url);
    u.username = 'kdb_test_nopriv';
    const err = await migrate({ connectionString: u.toString(), dimensions: 384 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as Error).message).toMatch(/cannot create extension "vector"/);
  });

  it('rejects dimensions HNSW cannot index', async () => {
    await expect(migrate({ connectionString: 'postgres://unused/x', dimensions: 3072 })).rejects.toThrow(/1 to 2000.*got 3072/);
  });
});
