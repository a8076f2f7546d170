/**
 * Hand measurement: the embedding-cache touch of a worker's batch, the bare
 * UPDATE against the UPDATE of rows first locked in text_hash order
 * (embeddingCache.ts touchCachedHashes), in turns on one database.
 * `node --conditions=source --import tsx scripts/bench/measureCacheTouch.ts [rows] [batch]`
 */
import os from 'node:os';
import pg from 'pg';
import { HashProvider, migrate } from '@kameleondb/core';
import { dropDatabase, freshDatabase, percentile } from './harness.js';

const ROWS = Number(process.argv[2] ?? 50_000);
const BATCH = Number(process.argv[3] ?? 500);
const name = `kdb_measure_touch_${process.pid}`;
const url = await freshDatabase(name);
await migrate({ connectionString: url });
const db = new pg.Client({ connectionString: url });
await db.connect();
const provider = new HashProvider({ dimensions: 384 });
const v = `[${Array.from(provider.embedOne('x')).join(',')}]`;
await db.query(`INSERT INTO kdb_embedding_cache (model_key, text_hash, embedding) SELECT 'm', md5(i::text), $1::vector FROM generate_series(1, $2) i`, [v, ROWS]);
await db.query('VACUUM ANALYZE kdb_embedding_cache_usage');
const BARE = `UPDATE kdb_embedding_cache_usage SET hits = hits + 1, last_used_at = now() WHERE model_key = $1 AND text_hash = ANY($2::text[]) RETURNING text_hash`;
const LOCKED = `WITH locked AS (SELECT text_hash FROM kdb_embedding_cache_usage WHERE model_key = $1 AND text_hash = ANY($2::text[]) ORDER BY text_hash FOR NO KEY UPDATE)
  UPDATE kdb_embedding_cache_usage c SET hits = c.hits + 1, last_used_at = now() FROM locked l WHERE c.model_key = $1 AND c.text_hash = l.text_hash RETURNING c.text_hash`;
const lat: Record<string, number[]> = { bare: [], locked: [] };
let seed = 7;
const batch = () => Array.from({ length: BATCH }, () => `${(seed = (seed * 48271) % 2147483647) % ROWS + 1}`);
const hashesOf = async (ids: string[]) => (await db.query<{ h: string }>('SELECT md5(i) AS h FROM unnest($1::text[]) i', [ids])).rows.map((r) => r.h);
for (let turn = 0; turn < 20; turn++) {
  for (const [k, sql] of [['bare', BARE], ['locked', LOCKED]] as const) {
    for (let i = 0; i < 10; i++) {
      const hs = await hashesOf(batch());
      const t = performance.now();
      const { rowCount } = await db.query(sql, ['m', hs]);
      lat[k]!.push(performance.now() - t);
      if (rowCount === 0) throw new Error('no row touched');
    }
  }
}
await db.end();
await dropDatabase(name);
const f = (k: string) => `p50 ${percentile(lat[k]!, 50).toFixed(2)} ms, p95 ${percentile(lat[k]!, 95).toFixed(2)} ms`;
console.log(`rows ${ROWS}, batch ${BATCH}, 200 each in 20 turns; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`bare UPDATE: ${f('bare')}; locked in order: ${f('locked')}; p50 ratio ${(percentile(lat.locked!, 50) / percentile(lat.bare!, 50)).toFixed(2)}`);
