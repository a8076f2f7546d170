import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, SchemaError } from '@kameleondb/core';
import { loadMigrations, pendingMigrations } from '../src/store/migrate.js';
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
    // Vectors are indexed per segment (built in bulk by the segment manager), not by one table-wide graph.
    const idx = await c.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'kdb_search' AND indexdef LIKE '%USING hnsw%'`);
    expect(idx.rows).toEqual([]);
    await c.end();
    expect((await migrate({ connectionString: db.url, dimensions: 384 })).applied).toEqual([]);
  });

  it('turns the vectors of a database from before segments into one sealed segment', async () => {
    const db = await createEmptyDatabase();
    drops.push(db.drop);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('CREATE EXTENSION vector');
    await c.query('CREATE TABLE kdb_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const m of (await loadMigrations()).filter((m) => m.version < 4)) {
      await c.query(m.sql.replaceAll('{{dimensions}}', '3'));
      await c.query('INSERT INTO kdb_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await c.query(`INSERT INTO kdb_entities (name, fields, embed_fields) VALUES ('e', '{"t":"text"}', '{t}')`);
    await c.query(`INSERT INTO kdb_records (id, entity, data) SELECT gen_random_uuid(), 'e', '{}' FROM generate_series(1, 50)`);
    await c.query(`INSERT INTO kdb_search (record_id, entity, content, content_hash, embedding, status)
                   SELECT id, 'e', 'x', 'h', CASE WHEN row_number() OVER () <= 40 THEN '[1,2,3]'::vector END, 'ready' FROM kdb_records`);
    const later = (await loadMigrations()).filter((m) => m.version >= 4).map((m) => m.version);
    expect((await migrate({ connectionString: db.url, dimensions: 3 })).applied).toEqual(later);
    const seg = await c.query('SELECT index_name, lo::int, hi::int, rows::int, kind FROM kdb_vector_segments');
    expect(seg.rows).toEqual([{ index_name: 'kdb_vseg_1_40', lo: 1, hi: 40, rows: 40, kind: 'migration' }]);
    const idx = await c.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'kdb_vseg_1_40'`);
    expect(idx.rows[0].indexdef).toMatch(/USING hnsw \(embedding vector_cosine_ops\) WHERE \(\(vector_seq >= 1\) AND \(vector_seq <= 40\)\)/);
    const seqs = await c.query('SELECT count(vector_seq)::int AS n FROM kdb_search');
    expect(seqs.rows[0].n).toBe(40);
    await c.end();
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
