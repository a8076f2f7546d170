import pg from 'pg';
import pgvector from 'pgvector';
import { HashProvider, listVectorSegments, vectorSql } from '@kameleondb/core';
const url = process.argv[2]!;
const c = new pg.Client({ connectionString: url });
await c.connect();
const provider = new HashProvider();
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const topicWord = (t: number) => `t${t}x${Math.floor(rand() * 20)}`;
const qs = Array.from({ length: 100 }, (_, i) => `${topicWord((i * 7) % 500)} ${topicWord((i * 7) % 500)} ${topicWord((i * 7) % 500)}`);
const exact: number[] = [];
await c.query('BEGIN'); await c.query('SET LOCAL enable_indexscan = off'); await c.query('SET LOCAL enable_bitmapscan = off');
for (const q of qs) {
  const v = pgvector.toSql(Array.from(provider.embedOne(q)));
  const r = await c.query(`SELECT embedding <=> $1::vector AS d FROM kdb_search ORDER BY 1 LIMIT 10`, [v]);
  exact.push(Number(r.rows[9].d));
}
await c.query('COMMIT');
async function measure(label: string) {
  const sql = vectorSql(await listVectorSegments(c), false);
  await c.query('SET hnsw.iterative_scan = relaxed_order');
  for (const ef of [40, 64, 100, 200]) {
    await c.query(`SET hnsw.ef_search = ${ef}`);
    let hits = 0; const lat: number[] = [];
    for (let rep = 0; rep < 2; rep++) for (let i = 0; i < qs.length; i++) {
      const v = pgvector.toSql(Array.from(provider.embedOne(qs[i]!)));
      const t = performance.now();
      const r = await c.query(sql, [v, ['bench'], 40]);
      lat.push(performance.now() - t);
      if (rep === 0) hits += r.rows.slice(0, 10).filter((x) => Number(x.distance) <= exact[i]! + 1e-9).length;
    }
    lat.sort((a, b) => a - b);
    console.log(label, 'ef', ef, 'recall', (hits / 1000).toFixed(3), 'p50', lat[100]!.toFixed(2), 'p95', lat[190]!.toFixed(2));
  }
}
await measure(process.argv[3] ?? 'current');
await c.end();
