/**
 * Hand measurement: the hit counting of a forced reindex of unchanged rows
 * (every text a cache hit) on the embedding cache as migrated up to 000015
 * (hits and last_used_at on the entry's row, beside its inline vector) and as
 * migrated now (a narrow usage row per entry, 000016), in turns on two
 * databases of the same entries. Each turn hits every entry once in batches
 * of a worker's size; both tables are vacuumed (untimed) between turns, as
 * autovacuum would. Also reports what a turn leaves to vacuum (the tables'
 * size after a turn, before the vacuum).
 * `node --conditions=source --import tsx scripts/bench/measureCacheUsage.ts [entries] [batch] [turns]`
 */
import os from 'node:os';
import pg from 'pg';
import { HashProvider, migrate } from '@kameleondb/core';
import { loadMigrations } from '../../packages/core/src/store/migrate.js';
import { touchCachedHashes } from '../../packages/core/src/cache/embeddingCache.js';
import { dropDatabase, freshDatabase, percentile } from './harness.js';

const ENTRIES = Number(process.argv[2] ?? 30_000);
const BATCH = Number(process.argv[3] ?? 2048);
const TURNS = Number(process.argv[4] ?? 8);
const MODEL = 'hash:feature-hash-v1:384';

/** The statement of touchCachedHashes before 000016. */
const BEFORE = `WITH locked AS (
     SELECT text_hash FROM kdb_embedding_cache
      WHERE model_key = $1 AND text_hash = ANY($2::text[])
      ORDER BY text_hash FOR NO KEY UPDATE)
   UPDATE kdb_embedding_cache c SET hits = c.hits + 1, last_used_at = now()
     FROM locked l
    WHERE c.model_key = $1 AND c.text_hash = l.text_hash
    RETURNING c.text_hash`;

/** The statement of touchCachedHashes now, for the WAL pass (EXPLAIN needs its text). */
const AFTER = BEFORE.replaceAll('kdb_embedding_cache', 'kdb_embedding_cache_usage');

const names = { before: `kdb_measure_usage_before_${process.pid}`, after: `kdb_measure_usage_after_${process.pid}` };
const urls = { before: await freshDatabase(names.before), after: await freshDatabase(names.after) };

// Before: the migrations up to 000015, applied as migrate() applies them.
const before = new pg.Client({ connectionString: urls.before });
await before.connect();
await before.query('CREATE EXTENSION IF NOT EXISTS vector');
await before.query('CREATE TABLE kdb_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
for (const m of (await loadMigrations()).filter((m) => m.version < 16)) {
  await before.query(m.sql.replaceAll('{{dimensions}}', '384'));
  await before.query('INSERT INTO kdb_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
}
await migrate({ connectionString: urls.after });
const after = new pg.Client({ connectionString: urls.after });
await after.connect();

const provider = new HashProvider({ dimensions: 384 });
const v = `[${Array.from(provider.embedOne('x')).join(',')}]`;
for (const c of [before, after]) {
  await c.query(`INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding) SELECT $1, md5(i::text), $2::vector FROM generate_series(1, $3) i`, [MODEL, v, ENTRIES]);
  await c.query('VACUUM ANALYZE');
}
const hashes = (await after.query<{ h: string }>('SELECT text_hash AS h FROM kdb_embedding_cache ORDER BY md5(text_hash)')).rows.map((r) => r.h);
const batches = Array.from({ length: Math.ceil(hashes.length / BATCH) }, (_, i) => hashes.slice(i * BATCH, (i + 1) * BATCH));

const size = async (c: pg.Client, tables: string[]) =>
  Number((await c.query<{ b: string }>(`SELECT sum(pg_total_relation_size(t::regclass)) AS b FROM unnest($1::text[]) t`, [tables])).rows[0]!.b);
const tablesOf = { before: ['kdb_embedding_cache'], after: ['kdb_embedding_cache', 'kdb_embedding_cache_usage'] };
const run = {
  before: async () => {
    for (const b of batches) if ((await before.query(BEFORE, [MODEL, b])).rowCount !== b.length) throw new Error('a hit was not counted');
  },
  after: async () => {
    for (const b of batches) if ((await touchCachedHashes(after, MODEL, b)).size !== b.length) throw new Error('a hit was not counted');
  },
};
const ms: Record<'before' | 'after', number[]> = { before: [], after: [] };
const grown: Record<'before' | 'after', number[]> = { before: [], after: [] };
for (let turn = 0; turn < TURNS; turn++) {
  // Alternating which goes first, so neither always runs on a warmer machine.
  for (const k of turn % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
    const c = k === 'before' ? before : after;
    const base = await size(c, tablesOf[k]);
    const t = performance.now();
    await run[k]();
    ms[k].push(performance.now() - t);
    grown[k].push((await size(c, tablesOf[k])) - base);
    await c.query('VACUUM');
  }
}
// One more turn each under EXPLAIN (ANALYZE, WAL): the WAL a hit writes (per statement,
// so the other sessions of a busy server do not count), untimed.
const walBytes = async (c: pg.Client, sql: string) => {
  let bytes = 0;
  let fpi = 0;
  for (const b of batches) {
    const { rows } = await c.query<{ 'QUERY PLAN': [{ Plan: { 'WAL Bytes': number; 'WAL FPI': number } }] }>(`EXPLAIN (ANALYZE, WAL, TIMING OFF, FORMAT JSON) ${sql}`, [MODEL, b]);
    bytes += rows[0]!['QUERY PLAN'][0].Plan['WAL Bytes'];
    fpi += rows[0]!['QUERY PLAN'][0].Plan['WAL FPI'];
  }
  return { perHit: bytes / hashes.length, fpi };
};
const wal = { before: await walBytes(before, BEFORE), after: await walBytes(after, AFTER) };
const check = {
  before: (await before.query<{ n: string }>('SELECT sum(hits) AS n FROM kdb_embedding_cache')).rows[0]!.n,
  after: (await after.query<{ n: string }>('SELECT sum(hits) AS n FROM kdb_embedding_cache_usage')).rows[0]!.n,
};
await before.end();
await after.end();
await dropDatabase(names.before);
await dropDatabase(names.after);

const f = (k: 'before' | 'after') =>
  `p50 ${percentile(ms[k], 50).toFixed(0)} ms (min ${Math.min(...ms[k]).toFixed(0)}, max ${Math.max(...ms[k]).toFixed(0)}), tables grew by up to ${(Math.max(...grown[k]) / 2 ** 20).toFixed(1)} MB in a turn`;
console.log(`${ENTRIES} entries, ${TURNS} timed turns (+1 for WAL) of ${ENTRIES} hits in batches of ${BATCH}; hits counted: ${check.before} / ${check.after} (expected ${(TURNS + 1) * ENTRIES}); load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`before (hits on the entry's row): ${f('before')}`);
console.log(`after (usage row): ${f('after')}`);
console.log(`WAL per hit: before ${wal.before.perHit.toFixed(0)} B (${wal.before.fpi} full-page images in the turn), after ${wal.after.perHit.toFixed(0)} B (${wal.after.fpi})`);
console.log(`p50 after / before: ${(percentile(ms.after, 50) / percentile(ms.before, 50)).toFixed(2)}`);
