import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { createEntity, getEntity, ingestRecords, patchRecord, patchRecords, updateEntity, type EmbedJobData } from '@kameleondb/core';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';
import { createTestEmbedQueue } from '../../../test-support/testEmbedQueue.js';

/**
 * A write validates records against the entity it read before its
 * transaction. An entity PATCH committing in between (a rename, a drop, new
 * embedFields) must not let records in with the old field names or texts
 * composed from the old embed fields.
 */
describe('writes racing an entity change', () => {
  let db: TestDatabase;
  let queue: Queue<EmbedJobData>;
  let closeQueue: () => Promise<void>;
  let id: string;
  const data = async () => (await db.pool.query(`SELECT data FROM kdb_records WHERE entity = 'Notes' ORDER BY id`)).rows.map((r) => r.data);
  const one = (value: unknown) => [{ value, where: 'records[0]' }];

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ queue, close: closeQueue } = createTestEmbedQueue());
    const entity = await createEntity(db.pool, { name: 'Notes', fields: { title: 'text', tag: 'string' }, embedFields: ['title'] });
    id = (await ingestRecords({ pool: db.pool, queue, entity, records: one({ title: 'first', tag: 'a' }) })).ids.at(0)!;
  });
  afterAll(async () => {
    await closeQueue();
    await db.close();
  });

  it('refuses an insert, a PATCH and a batch update read before a rename, writing nothing', async () => {
    const stale = await getEntity(db.pool, 'Notes');
    await updateEntity(db.pool, 'Notes', { renameFields: { tag: 'label' } });
    const changed = /entity "Notes" changed while this request was being read/;
    await expect(ingestRecords({ pool: db.pool, queue, entity: stale, records: one({ title: 'second', tag: 'b' }) })).rejects.toThrow(changed);
    await expect(patchRecord(db.pool, stale, id, { tag: 'c' })).rejects.toThrow(changed);
    await expect(patchRecords({ pool: db.pool, queue, entity: stale, records: one({ id, tag: 'd' }) })).rejects.toThrow(changed);
    expect(await data()).toEqual([{ title: 'first', label: 'a' }]);
  });

  it('refuses an insert read before an embedFields change (its text would use the old ones)', async () => {
    const stale = await getEntity(db.pool, 'Notes');
    await updateEntity(db.pool, 'Notes', { embedFields: ['title', 'label'] });
    await expect(ingestRecords({ pool: db.pool, queue, entity: stale, records: one({ title: 'second', label: 'b' }) })).rejects.toThrow(/changed while this request/);
    expect(await data()).toHaveLength(1);
  });

  it('lets a write read before fields were only added go through', async () => {
    const stale = await getEntity(db.pool, 'Notes');
    await updateEntity(db.pool, 'Notes', { fields: { extra: { type: 'string', unique: true } } });
    await ingestRecords({ pool: db.pool, queue, entity: stale, records: one({ title: 'second', label: 'b' }) });
    await patchRecord(db.pool, stale, id, { label: 'z' });
    expect(await data()).toEqual([{ title: 'first', label: 'z' }, { title: 'second', label: 'b' }]);
  });
});
