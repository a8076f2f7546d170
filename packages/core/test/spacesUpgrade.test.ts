import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createPool, HashProvider, migrate, SearchEngine, SegmentManager, type EmbeddingProvider } from '@kameleondb/core';
import { withEmbed } from '../src/embedding/EmbeddingProvider.js';
import { embedBatch } from '../src/batching/embedBatch.js';
import { loadMigrations } from '../src/store/migrate.js';
import { normalizeText } from '../src/content/normalizeText.js';
import { textHash } from '../src/content/textHash.js';
import { composeContent } from '../src/content/composeContent.js';
import { termFrequencies } from '../src/content/tokenize.js';
import { createEmptyDatabase } from '../../../test-support/testDatabase.js';

/**
 * A database made by the release before embedding spaces (migrations
 * 000001..000009, vectors in kdb_search, a sealed segment), written with
 * that release's statements, then opened by this version.
 */
describe('upgrade to embedding spaces', () => {
  const hash = new HashProvider();
  let calls = 0;
  const counting: EmbeddingProvider = withEmbed(hash, async (texts) => {
    calls += texts.length;
    return hash.embed(texts);
  });
  let drop: () => Promise<void>;
  let url: string;
  let pool: pg.Pool;
  let ids: string[] = [];
  const texts = Array.from({ length: 60 }, (_, i) => `note ${i} about ${['apples', 'rivers', 'engines', 'violins'][i % 4]} and topic${i % 7}`);
  const queries = [texts[3]!, texts[17]!, texts[42]!, texts[58]!];
  /** The vector statement of the release before (one sealed segment and the hot rows, over kdb_search), exact: no index scans. */
  const oldVectorTop = async (q: string) => {
    const v = `[${Array.from(hash.embedOne(q)).join(',')}]`;
    const c = await pool.connect();
    await c.query('BEGIN');
    await c.query('SET LOCAL enable_indexscan = off');
    const { rows } = await c.query<{ id: string }>(
      `SELECT id FROM (
         (SELECT s.record_id AS id, s.embedding <=> $1::vector AS distance FROM kdb_search s
           WHERE s.vector_seq BETWEEN 1 AND 60 AND s.entity = ANY($2::text[]) AND s.embedding IS NOT NULL ORDER BY s.embedding <=> $1::vector LIMIT 10)
         UNION ALL
         (SELECT s.record_id AS id, s.embedding <=> $1::vector AS distance FROM kdb_search s
           WHERE s.vector_seq > 60 AND s.entity = ANY($2::text[]) AND s.embedding IS NOT NULL ORDER BY s.embedding <=> $1::vector LIMIT 10)) u
        ORDER BY distance, id LIMIT 10`,
      [v, ['docs']],
    );
    await c.query('ROLLBACK');
    c.release();
    return rows.map((r) => r.id);
  };
  const before = new Map<string, string[]>();

  beforeAll(async () => {
    const db = await createEmptyDatabase();
    drop = db.drop;
    url = db.url;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE EXTENSION vector');
    await c.query('CREATE TABLE kdb_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const m of (await loadMigrations()).filter((m) => m.version < 10)) {
      await c.query(m.sql.replaceAll('{{dimensions}}', '384'));
      await c.query('INSERT INTO kdb_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await c.end();
    pool = createPool({ connectionString: url, max: 4 });
    // The old API's entity and ingest, in the tables as migration 9 left them (today's code writes
    // columns and tables of later migrations): records, their search rows and postings.
    await pool.query(`INSERT INTO kdb_entities (name, fields, embed_fields) VALUES ('docs', '{"text": "text"}', '{text}')`);
    ids = texts.map(() => randomUUID());
    const contents = texts.map((text) => composeContent({ text }, ['text']));
    const freqs = contents.map((c) => termFrequencies(c.content));
    await pool.query(`INSERT INTO kdb_records (id, entity, data) SELECT id, 'docs', jsonb_build_object('text', t) FROM unnest($1::uuid[], $2::text[]) AS u(id, t)`, [ids, texts]);
    await pool.query(
      `INSERT INTO kdb_search (record_id, entity, content, content_hash, doc_len) SELECT id, 'docs', c, h, l FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS u(id, c, h, l)`,
      [ids, contents.map((c) => c.content), contents.map((c) => c.hash), freqs.map((f) => f.length)],
    );
    const postings = freqs.flatMap((f, i) => [...f.tf].map(([term, tf]) => ({ id: ids[i]!, term, tf, len: f.length })));
    await pool.query(
      `INSERT INTO kdb_postings (entity, term, record_id, tf, doc_len) SELECT 'docs', term, id, tf, len FROM unnest($1::text[], $2::uuid[], $3::int[], $4::int[]) AS u(term, id, tf, len)`,
      [postings.map((x) => x.term), postings.map((x) => x.id), postings.map((x) => x.tf), postings.map((x) => x.len)],
    );
    // The old worker: cache entries, then the fenced write into kdb_search with a vector_seq each.
    const { rows } = await pool.query<{ content: string; content_hash: string }>('SELECT content, content_hash FROM kdb_search');
    for (const r of rows) {
      await pool.query('INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding) VALUES ($1, $2, $3::vector)', [
        hash.modelKey,
        r.content_hash,
        `[${Array.from(hash.embedOne(r.content)).join(',')}]`,
      ]);
    }
    await pool.query(
      `UPDATE kdb_search s SET embedding = c.embedding, embedded_hash = c.text_hash, model = $1, vector_seq = nextval('kdb_vector_seq'), status = 'ready'
         FROM kdb_embedding_cache c WHERE c.model_key = $1 AND c.text_hash = s.content_hash`,
      [hash.modelKey],
    );
    // The old segment manager's seal of all 60.
    await pool.query('CREATE INDEX kdb_vseg_1_60 ON kdb_search USING hnsw (embedding vector_cosine_ops) WITH (m = 24, ef_construction = 192) WHERE vector_seq BETWEEN 1 AND 60');
    await pool.query(`INSERT INTO kdb_vector_segments (index_name, lo, hi, rows, kind) VALUES ('kdb_vseg_1_60', 1, 60, 60, 'seal')`);
    // The old API's query vectors, written behind its searches into the same cache.
    for (const q of queries) {
      await pool.query('INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding) VALUES ($1, $2, $3::vector) ON CONFLICT DO NOTHING', [
        hash.modelKey,
        textHash(normalizeText(q)),
        `[${Array.from(hash.embedOne(normalizeText(q))).join(',')}]`,
      ]);
      before.set(q, await oldVectorTop(q));
    }
  });

  afterAll(async () => {
    await pool?.end();
    await drop?.();
  });

  it('opens with the old vectors as the active space: equal search answers, no re-embedding', async () => {
    const result = await migrate({ connectionString: url, space: { provider: 'hash', model: 'feature-hash-v1', dimensions: 384 } });
    expect(result.applied).toEqual((await loadMigrations()).map((m) => m.version).filter((v) => v >= 10));
    expect(result).toMatchObject({ seeded: false, configured: null, active: { id: 1, modelKey: hash.modelKey, state: 'active', dimensions: 384 } });
    const moved = await pool.query<{ n: number; hi: string }>('SELECT count(*)::int AS n, max(vector_seq)::text AS hi FROM kdb_vectors_1 WHERE embedding IS NOT NULL');
    expect(moved.rows[0]).toEqual({ n: 60, hi: '60' });
    expect((await pool.query(`SELECT count(*)::int AS n FROM kdb_search WHERE status = 'ready'`)).rows[0].n).toBe(60);

    const searchPool = createPool({ connectionString: url, max: 4, sessionSql: SearchEngine.sessionSql() });
    const engine = new SearchEngine({ pool: searchPool, provider: counting });
    try {
      for (const q of queries) {
        const answer = await engine.search({ q, entities: ['docs'], mode: 'vector', limit: 10 });
        expect(answer.space).toBe(hash.modelKey);
        expect(answer.results.map((r) => r.id)).toEqual(before.get(q));
      }
      // A worker finds nothing to embed: every row holds the vector of its text in the space.
      const batch = await embedBatch({ pool, provider: counting, ids });
      expect(batch.rows).toBe(0);
      expect(calls).toBe(0);

      // The segment manager seals the moved rows into the space's own segment, searched through its HNSW graph.
      const manager = new SegmentManager({ connectionString: url, logger: pino({ level: 'silent' }), idleMs: 0 });
      try {
        expect(await manager.step()).toMatchObject({ kind: 'seal', lo: '1', hi: '60', rows: 60, spaceId: 1, indexName: 'kdb_vseg_1_1_60' });
        const def = await pool.query<{ d: string }>(`SELECT pg_get_indexdef('kdb_vseg_1_1_60'::regclass) AS d`);
        expect(def.rows[0]!.d).toMatch(/ON public\.kdb_vectors_1 USING hnsw \(embedding vector_cosine_ops\).*WHERE \(\(vector_seq >= 1\) AND \(vector_seq <= 60\)\)/);
      } finally {
        await manager.close();
      }
      const fresh = new SearchEngine({ pool: searchPool, provider: counting, segmentCacheMs: 0 });
      for (const q of queries) {
        const answer = await fresh.search({ q, entities: ['docs'], mode: 'hybrid', limit: 10, explain: true });
        expect(answer.explain!.vectorSegments).toEqual({
          sealed: [{ lo: '1', hi: '60', rows: 60, indexValid: true, scan: 'exact', m: 24, efConstruction: 192, scanMs: expect.any(Number) }],
          skipped: 0,
          hotAbove: '60',
          hotScanMs: expect.any(Number),
        });
        const vector = await fresh.search({ q, entities: ['docs'], mode: 'vector', limit: 10 });
        const got = vector.results.map((r) => r.id);
        // Approximate now: the record itself first, and nearly all of the exact ten.
        expect(got[0]).toBe(before.get(q)![0]);
        expect(got.filter((id) => before.get(q)!.includes(id)).length).toBeGreaterThanOrEqual(9);
      }
      await fresh.close();
      // The query vectors came from the cache too.
      expect(calls).toBe(0);
    } finally {
      await engine.close();
      await searchPool.end();
    }
  });
});
