/** A value of a binary COPY row: text, a vector (pgvector's binary layout) or NULL. */
export type CopyValue = string | Float32Array | readonly number[] | null;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function vectorBytes(v: Float32Array | readonly number[]): Buffer {
  // pgvector's vector_recv: int16 dim, int16 unused, dim x float4, big-endian.
  const buf = Buffer.allocUnsafe(4 + 4 * v.length);
  buf.writeInt16BE(v.length, 0);
  buf.writeInt16BE(0, 2);
  for (let i = 0; i < v.length; i++) buf.writeFloatBE(v[i]!, 4 + 4 * i);
  return buf;
}

/**
 * Encodes rows in PostgreSQL's binary COPY format. Vectors travel as float4
 * bytes: ~10x faster than their text form, which both sides must format and
 * parse.
 */
export function encodeCopyBinary(rows: readonly (readonly CopyValue[])[]): Buffer {
  const chunks: Buffer[] = [SIGNATURE, Buffer.alloc(8)];
  for (const row of rows) {
    const head = Buffer.allocUnsafe(2);
    head.writeInt16BE(row.length, 0);
    chunks.push(head);
    for (const value of row) {
      const len = Buffer.allocUnsafe(4);
      if (value === null) {
        len.writeInt32BE(-1, 0);
        chunks.push(len);
        continue;
      }
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : vectorBytes(value);
      len.writeInt32BE(bytes.length, 0);
      chunks.push(len, bytes);
    }
  }
  const trailer = Buffer.allocUnsafe(2);
  trailer.writeInt16BE(-1, 0);
  chunks.push(trailer);
  return Buffer.concat(chunks);
}
