import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lsnBytes, ReplicaRouter, walInsertLsn } from '@kameleondb/core';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

describe('ReplicaRouter', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.close());

  it('keeps a "replica" that is not a standby out of rotation, saying why, and serves on the primary', async () => {
    // The primary itself named as a replica (a misconfiguration): its WAL positions say nothing of replay.
    const router = new ReplicaRouter({ primary: db.pool, replicas: [{ name: 'not-a-standby', pool: db.pool }], checkEveryMs: 60_000 });
    try {
      const route = await router.pick({});
      expect(route).toMatchObject({ server: { name: 'primary', role: 'primary' }, reason: 'no replica in rotation' });
      expect(router.statuses()).toEqual([expect.objectContaining({ name: 'not-a-standby', inRotation: false, reason: expect.stringMatching(/not a standby/) })]);
      expect((await router.pick({ consistency: 'primary' })).reason).toBe('consistency=primary');
    } finally {
      await router.close();
    }
  });

  it('answers on the primary without replicas, and rejects a position past the primary only when replicas are asked', async () => {
    const none = new ReplicaRouter({ primary: db.pool });
    expect(await none.pick({ after: 'FFFFFFFF/FFFFFFFF' })).toMatchObject({ reason: 'no replicas configured', after: 'FFFFFFFF/FFFFFFFF' });
    await none.close();
    const router = new ReplicaRouter({ primary: db.pool, replicas: [{ name: 'x', pool: db.pool }], checkEveryMs: 60_000 });
    try {
      await expect(router.pick({ after: 'FFFFFFFF/FFFFFFFF' })).rejects.toThrow(/after FFFFFFFF\/FFFFFFFF is past the primary's WAL position/);
      await expect(router.pick({ after: 'nope' })).rejects.toThrow(/not a WAL position such as 16\/B374D848/);
      // A position the primary has written is accepted (then served by the primary: no replica in rotation).
      const lsn = await walInsertLsn(db.pool);
      expect(await router.pick({ after: lsn })).toMatchObject({ reason: 'no replica in rotation', after: lsn });
    } finally {
      await router.close();
    }
  });

  it('orders WAL positions by their 64-bit value, not as text', () => {
    expect(lsnBytes('0/A') > lsnBytes('0/9')).toBe(true);
    expect(lsnBytes('1/0') > lsnBytes('0/FFFFFFFF')).toBe(true);
    expect(lsnBytes('10/0')).toBe(16n << 32n);
    expect(lsnBytes('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
  });
});
