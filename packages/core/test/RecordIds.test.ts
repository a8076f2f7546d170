import { describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { RecordIds } from '../src/ingest/RecordIds.js';

describe('RecordIds', () => {
  it('gives back every id, in order, across buffer growth, as strings and in slices', () => {
    const want = Array.from({ length: 5000 }, () => uuidv7());
    const ids = new RecordIds(3);
    ids.push(want.slice(0, 1234));
    ids.push(want.slice(1234));
    expect(ids.length).toBe(5000);
    expect([...ids]).toEqual(want);
    expect(ids.toArray()).toEqual(want);
    expect(ids.at(0)).toBe(want[0]);
    expect(ids.at(-1)).toBe(want[4999]);
    expect(ids.at(5000)).toBeUndefined();
    const slices = [...ids.slices(2048)];
    expect(slices.map((s) => s.length)).toEqual([2048, 2048, 904]);
    expect(slices.flat()).toEqual(want);
  });

  it('refuses what is not a UUID instead of storing garbage', () => {
    expect(() => RecordIds.of(['not-a-uuid'])).toThrow(/not a UUID: "not-a-uuid"/);
  });
});
