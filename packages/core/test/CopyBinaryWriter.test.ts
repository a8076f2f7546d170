import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import copyStreams from 'pg-copy-streams';
import { CopyBinaryWriter } from '../src/store/CopyBinaryWriter.js';
import { encodeCopyBinary } from '../src/store/encodeCopyBinary.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/testDatabase.js';

describe('CopyBinaryWriter', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query('CREATE TABLE copy_w (i int, big bigint, t text, u uuid, ints bytea, v vector(3), raw bytea)');
  });
  afterAll(async () => {
    await db?.close();
  });

  const copy = async (chunks: Buffer[]) => {
    const client = await db.pool.connect();
    try {
      await client.query('TRUNCATE copy_w');
      await pipeline(Readable.from(chunks), client.query(copyStreams.from('COPY copy_w FROM STDIN (FORMAT binary)')));
    } finally {
      client.release();
    }
    const { rows } = await db.pool.query(`SELECT i, big::text AS big, t, u::text AS u, encode(ints, 'hex') AS ints, v::text AS v, encode(raw, 'hex') AS raw FROM copy_w ORDER BY i`);
    return rows;
  };

  it('writes rows Postgres reads back field for field, rows split over many small buffers, int8s past 2^32 and below 0 without BigInt', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({
      i,
      big: i % 3 === 0 ? -(2 ** 40) - i : 2 ** 33 * i + 7,
      t: `térm ${i} ${'x'.repeat(i % 17)}`,
      u: `0190${i.toString(16).padStart(4, '0')}-aaaa-7bbb-8ccc-${'D'.repeat(11)}${i % 10}`,
      ints: [i, -i, 2 ** 31 - 1],
      v: [i, 0.5, -1],
    }));
    // Buffers of 64 bytes: most rows end a buffer, none is cut across two.
    const w = new CopyBinaryWriter(64);
    const taken: Buffer[] = [];
    for (const r of rows) {
      const raw = 8;
      w.row(7, 8 + 12 + CopyBinaryWriter.textBytes(r.t) + 20 + 4 + 12 + 4 + 4 * 3 + 4 + 4 + raw)
        .int4(r.i)
        .int8(r.big)
        .text(r.t)
        .uuid(r.u)
        .int4s(r.ints, 0, 3);
      if (r.i % 5 === 0) w.null();
      else w.vector(r.v);
      const f = w.field(raw);
      f.buf.writeUInt32BE(0xdeadbeef, f.at);
      f.buf.writeInt32BE(r.i, f.at + 4);
      taken.push(...w.take());
    }
    taken.push(...w.end());
    expect(taken.length).toBeGreaterThan(rows.length / 2);
    const back = await copy(taken);
    expect(back).toHaveLength(rows.length);
    for (const r of rows) {
      const b = back[r.i]!;
      expect(b.big).toBe(String(r.big));
      expect(b.t).toBe(r.t);
      expect(b.u).toBe(r.u.toLowerCase());
      expect(b.ints).toBe(Buffer.from(Int32Array.from(r.ints, (x) => x).buffer).swap32().toString('hex'));
      expect(b.v).toBe(r.i % 5 === 0 ? null : `[${r.v.join(',')}]`);
      expect(b.raw).toBe(`deadbeef${r.i.toString(16).padStart(8, '0')}`);
    }
  });

  it('refuses a malformed uuid, naming it, instead of writing other bytes', () => {
    const w = new CopyBinaryWriter();
    for (const bad of ['0190abcd-aaaa-7bbb-8ccc-dddddddddddz', '0190abcd_aaaa-7bbb-8ccc-dddddddddddd', '0190abcd-aaaa-7bbb-8ccc-ddddddddddd', '0190abcd-aaaa-7bbb-8ccc-ddddddddddd\u00e9']) {
      expect(() => w.row(1, 20).uuid(bad)).toThrow(`not a UUID: ${JSON.stringify(bad)}`);
    }
  });

  it('encodeCopyBinary: text, vectors and NULLs in one buffer', async () => {
    await db.pool.query('CREATE TABLE copy_e (t text, v vector(2), n text)');
    const client = await db.pool.connect();
    try {
      const buf = encodeCopyBinary([
        ['a', [1, 2], null],
        ['ü', new Float32Array([0.25, -3]), 'x'],
      ]);
      await pipeline(Readable.from([buf]), client.query(copyStreams.from('COPY copy_e FROM STDIN (FORMAT binary)')));
    } finally {
      client.release();
    }
    const { rows } = await db.pool.query(`SELECT t, v::text AS v, n FROM copy_e ORDER BY t`);
    expect(rows).toEqual([
      { t: 'a', v: '[1,2]', n: null },
      { t: 'ü', v: '[0.25,-3]', n: 'x' },
    ]);
  });
});
