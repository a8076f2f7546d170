import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, SchemaError } from '@kameleondb/core';
import { loadMigrations, pendingMigrations } from '../src/store/migrate.js';
import { readGroupBlocks, readGroupHeads } from '../src/store/postingsBlockStore.js';
import { createEmptyDatabase } from '../../../test-support/testDatabase.js';
import { adminUrl } from '../../../test-support/urls.js';

const SEED_384 = { provider: 'hash', model: 'feature-hash-v1', dimensions: 384 };

describe('migrate', () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });


  /** A database migrated by hand up to (not including) `version`, vector columns of `dimensions`, as an older release left it. */
  async function databaseBefore(version: number, dimensions: number) {
    const db = await createEmptyDatabase();
    drops.push(db.drop);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('CREATE EXTENSION vector');
    await c.query('CREATE TABLE kdb_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const m of (await loadMigrations()).filter((m) => m.version < version)) {
      await c.query(m.sql.replaceAll('{{dimensions}}', String(dimensions)));
      await c.query('INSERT INTO kdb_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    return { db, c };
  }
  it('applies the schema once when several processes start at the same time', async () => {
    const db = await createEmptyDatabase();
    drops.push(db.drop);
    const results = await Promise.all([1, 2, 3, 4].map(() => migrate({ connectionString: db.url, space: SEED_384 })));
    // Exactly one of them applied each migration; the others found it done.
    expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual((await loadMigrations()).map((m) => m.version));
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
    // Exactly one of them seeded the first embedding space, with its vector table.
    expect(results.filter((r) => r.seeded)).toHaveLength(1);
    const spaces = await c.query(`SELECT id, model_key, state FROM kdb_embedding_spaces`);
    expect(spaces.rows).toEqual([{ id: 1, model_key: 'hash:feature-hash-v1:384', state: 'active' }]);
    const col = await c.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'kdb_vectors_1'::regclass AND attname = 'embedding'`);
    expect(col.rows[0].t).toBe('vector(384)');
    await c.end();
    expect((await migrate({ connectionString: db.url, space: SEED_384 })).applied).toEqual([]);
  });

  it('carries the vectors of a database from before segments through to the first space', async () => {
    const { db, c } = await databaseBefore(4, 3);
    await c.query(`INSERT INTO kdb_entities (name, fields, embed_fields) VALUES ('e', '{"t":"text"}', '{t}')`);
    await c.query(`INSERT INTO kdb_records (id, entity, data) SELECT gen_random_uuid(), 'e', '{}' FROM generate_series(1, 50)`);
    await c.query(`INSERT INTO kdb_search (record_id, entity, content, content_hash, embedding, status)
                   SELECT id, 'e', 'x', 'h', CASE WHEN row_number() OVER () <= 40 THEN '[1,2,3]'::vector END, 'ready' FROM kdb_records`);
    await c.query(`UPDATE kdb_search SET embedded_hash = content_hash, model = 'hash:feature-hash-v1:3' WHERE embedding IS NOT NULL`);
    const later = (await loadMigrations()).filter((m) => m.version >= 4).map((m) => m.version);
    const result = await migrate({ connectionString: db.url, space: SEED_384 });
    expect(result.applied).toEqual(later);
    // The vectors found make the first space (their model key, their column's dimension), not the configured provider.
    expect(result).toMatchObject({ seeded: false, active: { id: 1, modelKey: 'hash:feature-hash-v1:3', dimensions: 3 }, configured: 'hash:feature-hash-v1:384' });
    const moved = await c.query('SELECT count(*)::int AS n, count(DISTINCT vector_seq)::int AS seqs, max(vector_seq)::int AS hi FROM kdb_vectors_1 WHERE embedding IS NOT NULL');
    expect(moved.rows[0]).toEqual({ n: 40, seqs: 40, hi: 40 });
    // The 10 rows without a vector were "ready" with nothing: they are pending now, for the sweeper.
    const st = await c.query(`SELECT status, count(*)::int AS n FROM kdb_search GROUP BY status ORDER BY status`);
    expect(st.rows).toEqual([{ status: 'pending', n: 10 }, { status: 'ready', n: 40 }]);
    // The old segment went with kdb_search.embedding; the segment manager seals the rows again.
    expect((await c.query('SELECT count(*)::int AS n FROM kdb_vector_segments')).rows[0].n).toBe(0);
    expect((await c.query(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname LIKE 'kdb_vseg%'`)).rows[0].n).toBe(0);
    await c.end();
  });

  it('moves the hits and last use of cache entries from before 000016 to their usage rows, one per entry', async () => {
    const { db, c } = await databaseBefore(16, 384);
    await c.query(`INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding, hits, last_used_at)
                   SELECT 'm:x:2', 'h' || g, '[1,0]', g * 10, timestamptz '2026-01-01' + make_interval(days => g) FROM generate_series(1, 5) g`);
    const result = await migrate({ connectionString: db.url });
    expect(result.applied).toEqual((await loadMigrations()).filter((m) => m.version >= 16).map((m) => m.version));
    const usage = await c.query<{ text_hash: string; hits: number; day: string }>(
      `SELECT text_hash, hits::int, to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM kdb_embedding_cache_usage ORDER BY text_hash`,
    );
    expect(usage.rows).toEqual([1, 2, 3, 4, 5].map((g) => ({ text_hash: `h${g}`, hits: g * 10, day: `2026-01-0${g + 1}` })));
    const cols = await c.query(`SELECT attname FROM pg_attribute WHERE attrelid = 'kdb_embedding_cache'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`);
    expect(cols.rows.map((r) => r.attname)).toEqual(['model_key', 'text_hash', 'embedding', 'created_at']);
    // A new entry gets its usage row, whoever inserts it; a deleted one takes its usage row with it.
    await c.query(`INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding) VALUES ('m:x:2', 'h6', '[0,1]')`);
    await c.query(`DELETE FROM kdb_embedding_cache WHERE text_hash = 'h1'`);
    const after = await c.query(`SELECT text_hash, hits::int FROM kdb_embedding_cache_usage ORDER BY text_hash`);
    expect(after.rows).toEqual([{ text_hash: 'h2', hits: 20 }, { text_hash: 'h3', hits: 30 }, { text_hash: 'h4', hits: 40 }, { text_hash: 'h5', hits: 50 }, { text_hash: 'h6', hits: 0 }]);
    await c.end();
  });

  it('gives the segments sealed before 000017 their rows per entity and the vector tables their (entity, vector_seq) index', async () => {
    const { db, c } = await databaseBefore(17, 3);
    await c.query(`INSERT INTO kdb_embedding_spaces (id, model_key, provider, model, dimensions, state) VALUES (1, 'hash:x:3', 'hash', 'x', 3, 'active')`);
    await c.query('SELECT kdb_create_vector_table(1, 3)');
    // seqs 1-20 entity a, 21-40 b; segments [1, 25] and [26, 40]; 41-45 hot (c).
    await c.query(`INSERT INTO kdb_vectors_1 (record_id, entity, embedded_hash, embedding, vector_seq)
                   SELECT gen_random_uuid(), CASE WHEN g <= 20 THEN 'a' WHEN g <= 40 THEN 'b' ELSE 'c' END, 'h', '[1,2,3]', g FROM generate_series(1, 45) g`);
    await c.query(`INSERT INTO kdb_vector_segments (index_name, space_id, lo, hi, rows, kind) VALUES ('kdb_vseg_1_1_25', 1, 1, 25, 25, 'seal'), ('kdb_vseg_1_26_40', 1, 26, 40, 15, 'seal')`);
    const result = await migrate({ connectionString: db.url });
    expect(result.applied).toEqual((await loadMigrations()).filter((m) => m.version >= 17).map((m) => m.version));
    const segments = await c.query('SELECT index_name, entity_rows FROM kdb_vector_segments ORDER BY lo');
    expect(segments.rows).toEqual([
      { index_name: 'kdb_vseg_1_1_25', entity_rows: { a: 20, b: 5 } },
      { index_name: 'kdb_vseg_1_26_40', entity_rows: { b: 15 } },
    ]);
    // The existing space's table and a space's table created from now on both have the index.
    await c.query('SELECT kdb_create_vector_table(2, 3)');
    const idx = await c.query(`SELECT tablename, indexdef FROM pg_indexes WHERE indexname LIKE '%entity_seq_idx' ORDER BY tablename`);
    expect(idx.rows.map((r) => [r.tablename, r.indexdef.replace(/^.* USING /, '')])).toEqual([
      ['kdb_vectors_1', 'btree (entity, vector_seq)'],
      ['kdb_vectors_2', 'btree (entity, vector_seq)'],
    ]);
    await c.end();
  });

  it('groups the postings blocks written before 000019 by 32 per term, their heads as search reads them', async () => {
    const { db, c } = await databaseBefore(19, 3);
    // 70 blocks of "a" (documents 10i .. 10i+4, 5 postings each) and one of "b".
    await c.query(`INSERT INTO kdb_postings_blocks (entity, term, first_doc, last_doc, n, frontier, min_id, body)
                   SELECT 'notes', 'a', 10 * g, 10 * g + 4, 5, int4send(g % 4 + 1) || int4send(20 + g), ('00000000-0000-4000-8000-' || lpad(to_hex(1000 - g), 12, '0'))::uuid, '\\x00'::bytea
                     FROM generate_series(0, 69) g
                   UNION ALL SELECT 'notes', 'b', 3, 3, 1, int4send(2) || int4send(9), '00000000-0000-4000-8000-000000000001', '\\x00'::bytea`);
    await migrate({ connectionString: db.url });
    const { rows } = await c.query('SELECT term, first_doc::int, last_doc::int, blocks, n, min_id FROM kdb_postings_groups ORDER BY term, first_doc');
    expect(rows).toEqual([
      { term: 'a', first_doc: 0, last_doc: 314, blocks: 32, n: 160, min_id: '00000000-0000-4000-8000-0000000003c9' },
      { term: 'a', first_doc: 320, last_doc: 634, blocks: 32, n: 160, min_id: '00000000-0000-4000-8000-0000000003a9' },
      { term: 'a', first_doc: 640, last_doc: 694, blocks: 6, n: 30, min_id: '00000000-0000-4000-8000-0000000003a3' },
      { term: 'b', first_doc: 3, last_doc: 3, blocks: 1, n: 1, min_id: '00000000-0000-4000-8000-000000000001' },
    ]);
    // Search reads a group's blocks back from its heads: every block, with its own frontier and id.
    const pool = new pg.Pool({ connectionString: db.url });
    const { blocks } = await readGroupBlocks(pool, [{ entity: 'notes', term: 'a', first: 640 }]);
    expect([...blocks.values()][0]!.map((h) => [h.first, h.last, h.n, [...h.frontier], h.min_id])).toEqual(
      Array.from({ length: 6 }, (_, j) => 64 + j).map((g) => [10 * g, 10 * g + 4, 5, [(g % 4) + 1, 20 + g], `00000000-0000-4000-8000-${(1000 - g).toString(16).padStart(12, '0')}`]),
    );
    const { groups } = await readGroupHeads(pool, ['notes'], ['a', 'b']);
    expect(groups.map((g) => [g.term, g.first, g.blocks, Math.max(...g.frontier.filter((_, i) => i % 2 === 0))])).toEqual([
      ['a', 0, 32, 4],
      ['a', 320, 32, 4],
      ['a', 640, 6, 4],
      ['b', 3, 1, 2],
    ]);
    await pool.end();
    await c.end();
  });

  it('keeps the active space when the configured provider names another model, and says which', async () => {
    const db = await createEmptyDatabase();
    drops.push(db.drop);
    await migrate({ connectionString: db.url, space: SEED_384 });
    const other = await migrate({ connectionString: db.url, space: { provider: 'openai', model: 'text-embedding-3-small', dimensions: 1536 } });
    expect(other).toMatchObject({ seeded: false, active: { modelKey: 'hash:feature-hash-v1:384', state: 'active' }, configured: 'openai:text-embedding-3-small:1536' });
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
    const err = await migrate({ connectionString: u.toString(), space: SEED_384 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaError);
    expect((err as Error).message).toMatch(/cannot create extension "vector"/);
  });

  it('rejects dimensions HNSW cannot index', async () => {
    await expect(migrate({ connectionString: 'postgres://unused/x', space: { ...SEED_384, dimensions: 3072 } })).rejects.toThrow(/1 to 2000.*got 3072/);
  });
});
