import { describe, expect, it } from 'vitest';
import { readEnv } from '../src/env.js';

const base = { KDB_AUTH: 'disabled' };

describe('replica settings (KDB_SEARCH_DATABASE_URL, KDB_REPLICA_WAIT_MS, KDB_REPLICA_MAX_LAG)', () => {
  it('reads one or more comma-separated replica URLs, and defaults', () => {
    const one = readEnv({ ...base, KDB_SEARCH_DATABASE_URL: 'postgres://u@r1:5433/kdb' });
    expect(one.KDB_SEARCH_DATABASE_URL).toEqual(['postgres://u@r1:5433/kdb']);
    expect(one.KDB_REPLICA_WAIT_MS).toBe(1000);
    expect(one.KDB_REPLICA_MAX_LAG).toBe(30);
    const two = readEnv({ ...base, KDB_SEARCH_DATABASE_URL: 'postgres://r1/kdb, postgresql://r2:5434/kdb', KDB_REPLICA_MAX_LAG: '2m', KDB_REPLICA_WAIT_MS: '0' });
    expect(two.KDB_SEARCH_DATABASE_URL).toEqual(['postgres://r1/kdb', 'postgresql://r2:5434/kdb']);
    expect(two.KDB_REPLICA_MAX_LAG).toBe(120);
    expect(two.KDB_REPLICA_WAIT_MS).toBe(0);
    expect(readEnv(base).KDB_SEARCH_DATABASE_URL).toBeUndefined();
  });

  it('names a bad URL by its position and never shows a password of any of them', () => {
    const attempts = [
      'postgres://u:hunter2secret@r1/kdb,http://u:hunter2secret@r2/kdb',
      'postgres://u:hunter2secret@r1/kdb,not a url',
      'postgres://u:hunter2secret@r1/kdb,postgres://u:hunter2secret@r1/kdb',
    ];
    const messages = attempts.map((v) => {
      try {
        readEnv({ ...base, KDB_SEARCH_DATABASE_URL: v });
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(messages[0]).toMatch(/KDB_SEARCH_DATABASE_URL: URL 2 of 2 is not a postgres:\/\/host\[:port\]\/database URL/);
    expect(messages[1]).toMatch(/URL 2 of 2 is not a postgres/);
    expect(messages[2]).toMatch(/URL 2 of 2 repeats an earlier one/);
    for (const m of messages) expect(m).not.toContain('hunter2secret');
    const many = Array.from({ length: 17 }, (_, i) => `postgres://r${i}/kdb`).join(',');
    expect(() => readEnv({ ...base, KDB_SEARCH_DATABASE_URL: many })).toThrow(/names 17 URLs; at most 16 replicas/);
  });

  it('rejects a wait or a lag bound out of range, saying what is allowed', () => {
    expect(() => readEnv({ ...base, KDB_REPLICA_MAX_LAG: '30' })).toThrow(/KDB_REPLICA_MAX_LAG: must be a duration such as 30s or 2m/);
    expect(() => readEnv({ ...base, KDB_REPLICA_MAX_LAG: '0s' })).toThrow(/KDB_REPLICA_MAX_LAG: must be 1s to 60m/);
    expect(() => readEnv({ ...base, KDB_REPLICA_MAX_LAG: '61m' })).toThrow(/must be 1s to 60m/);
    expect(() => readEnv({ ...base, KDB_REPLICA_WAIT_MS: '60001' })).toThrow(/KDB_REPLICA_WAIT_MS/);
  });
});
