import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntity } from '@kameleondb/core';
import { recordIdRange } from '../src/entities/recordIdPrefix.js';
import { RESOLVE_IDS, resolveRecordIds } from '../src/store/recordStore.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

describe('record id prefixes', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    await createEntity(db.pool, { name: 'Big', fields: { t: 'text' }, embedFields: ['t'] });
    await createEntity(db.pool, { name: 'Small', fields: { t: 'text' }, embedFields: ['t'] });
    // Records only (no search rows): enough for the planner to see a table worth an index.
    await db.pool.query(`INSERT INTO kdb_records (id, entity, data) SELECT gen_random_uuid(), CASE WHEN g % 10 = 0 THEN 'Small' ELSE 'Big' END, '{}' FROM generate_series(1, 50000) g`);
    await db.pool.query('ANALYZE kdb_records');
  });
  afterAll(async () => {
    await db.close();
  });

  it('reads a prefix as the range of ids starting with it', () => {
    expect(recordIdRange('0190AB12-3c')).toEqual({ ref: '0190AB12-3c', lo: '0190ab12-3c00-0000-0000-000000000000', hi: '0190ab12-3cff-ffff-ffff-ffffffffffff', exact: false });
    expect(recordIdRange('0190ab123c')).toMatchObject({ lo: '0190ab12-3c00-0000-0000-000000000000' });
    const id = '0190ab12-3c4d-7e8f-9a0b-1c2d3e4f5a6b';
    expect(recordIdRange(id)).toMatchObject({ lo: id, hi: id, exact: true });
    expect(recordIdRange(id.replace(/-/g, ''))).toMatchObject({ lo: id, exact: true });
    for (const bad of ['abc', '', 'ab-cd', '0190ab123-c', 'xyz1', `${id}0`, '0190ab12--']) expect(recordIdRange(bad)).toBeNull();
  });

  it('looks a prefix up by an index range scan of the entity and id, never a sequential scan', async () => {
    const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM kdb_records WHERE entity = 'Small' LIMIT 1`);
    const r = recordIdRange(rows[0]!.id.slice(0, 6))!;
    const plan = await db.pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${RESOLVE_IDS}`, ['Small', [r.lo], [r.hi]]);
    const all = nodes(plan.rows[0]!['QUERY PLAN'][0].Plan);
    expect(all.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'kdb_records')).toEqual([]);
    const scan = all.find((n) => n['Relation Name'] === 'kdb_records')!;
    expect(scan['Node Type']).toMatch(/^Index (Only )?Scan$/);
    expect(scan['Index Cond']).toMatch(/entity = .*id >= t\.lo.*id <= t\.hi/);
    expect(await resolveRecordIds(db.pool, 'Small', [rows[0]!.id.slice(0, 13).toUpperCase()])).toEqual([rows[0]!.id]);
  });

  it('resolves 10,000 whole ids and prefixes in one statement, in order', async () => {
    const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM kdb_records WHERE entity = 'Big' ORDER BY random() LIMIT 10000`);
    const refs = rows.map((r, i) => (i % 2 ? r.id : r.id.slice(0, 23)));
    const started = performance.now();
    expect(await resolveRecordIds(db.pool, 'Big', refs)).toEqual(rows.map((r) => r.id));
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
