const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags (int4) and header extension length (int4). */
const HEADER_BYTES = SIGNATURE.length + 8;
const CHUNK_BYTES = 1 << 18;

/** Writes a safe integer as a big-endian int8 at `at` (two words, no BigInt); returns the offset after it. */
export function putInt64(buf: Buffer, v: number, at: number): number {
  return buf.writeUInt32BE(v >>> 0, buf.writeInt32BE(Math.floor(v / 2 ** 32), at));
}

/** Hex digit values by char code; -1 for the other characters. */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/**
 * Writes a uuid's 16 bytes from its canonical text (8-4-4-4-12 hex digits) at
 * `at`; returns the offset after it. Parsed by hand: Buffer's hex decoding,
 * five calls a uuid, was a large part of encoding a batch of postings blocks
 * (docs/decisions/copy-binary-writer.md).
 */
export function putUuid(buf: Buffer, id: string, at: number): number {
  let bad = id.length !== 36;
  let o = at;
  for (let i = 0; i < 36 && !bad; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      bad = id.charCodeAt(i) !== 45;
      i += 1;
      continue;
    }
    const hi = HEX[id.charCodeAt(i)] ?? -1;
    const lo = HEX[id.charCodeAt(i + 1)] ?? -1;
    bad = hi < 0 || lo < 0;
    buf[o++] = (hi << 4) | lo;
    i += 2;
  }
  if (bad) throw new TypeError(`not a UUID: ${JSON.stringify(id.slice(0, 40))}`);
  return o;
}

/**
 * PostgreSQL's binary COPY format, written field by field straight into
 * buffers of CHUNK_BYTES: no Buffer per field or row, nothing concatenated.
 * Each row names its size up front (`row`), so a row never spans two
 * buffers. Full buffers are handed over by `take` as they fill, so the caller
 * streams them while it writes more (postings blocks of a batch are hundreds
 * of MB); `end` writes the trailer and hands over the rest.
 */
export class CopyBinaryWriter {
  private buf: Buffer;
  private at: number;
  private full: Buffer[] = [];

  constructor(private readonly chunkBytes = CHUNK_BYTES) {
    this.buf = Buffer.allocUnsafe(Math.max(chunkBytes, HEADER_BYTES));
    SIGNATURE.copy(this.buf, 0);
    this.buf.fill(0, SIGNATURE.length, HEADER_BYTES);
    this.at = HEADER_BYTES;
  }

  /** Bytes a text field takes (its length word and its UTF-8). */
  static textBytes(s: string): number {
    return 4 + Buffer.byteLength(s, 'utf8');
  }

  /** Starts a row of `fields` values that take `bytes` with their length words. */
  row(fields: number, bytes: number): this {
    this.room(2 + bytes);
    this.at = this.buf.writeInt16BE(fields, this.at);
    return this;
  }

  int4(v: number): this {
    this.at = this.buf.writeInt32BE(4, this.at);
    this.at = this.buf.writeInt32BE(v, this.at);
    return this;
  }

  /** An int8 from a safe integer (a doc number): two words, no BigInt. */
  int8(v: number): this {
    this.at = putInt64(this.buf, v, this.buf.writeInt32BE(8, this.at));
    return this;
  }

  text(s: string): this {
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeInt32BE(n, this.at);
    this.at += 4 + n;
    return this;
  }

  /** A uuid from its canonical text (8-4-4-4-12 hex digits). */
  uuid(id: string): this {
    this.at = putUuid(this.buf, id, this.buf.writeInt32BE(16, this.at));
    return this;
  }

  /** A bytea of `xs[from, from + count)` as big-endian int4s. */
  int4s(xs: ArrayLike<number>, from: number, count: number): this {
    let o = this.buf.writeInt32BE(4 * count, this.at);
    for (let i = from; i < from + count; i++) o = this.buf.writeInt32BE(xs[i]!, o);
    this.at = o;
    return this;
  }

  /** A vector in pgvector's binary layout: int16 dim, int16 unused, dim × float4. */
  vector(v: Float32Array | readonly number[]): this {
    let o = this.buf.writeInt32BE(4 + 4 * v.length, this.at);
    o = this.buf.writeInt16BE(v.length, o);
    o = this.buf.writeInt16BE(0, o);
    for (let i = 0; i < v.length; i++) o = this.buf.writeFloatBE(v[i]!, o);
    this.at = o;
    return this;
  }

  null(): this {
    this.at = this.buf.writeInt32BE(-1, this.at);
    return this;
  }

  /**
   * A field of `bytes` the caller writes itself: returns the buffer and the
   * offset its bytes start at.
   */
  field(bytes: number): { buf: Buffer; at: number } {
    this.buf.writeInt32BE(bytes, this.at);
    const at = this.at + 4;
    this.at = at + bytes;
    return { buf: this.buf, at };
  }

  /** The buffers filled since the last call. */
  take(): Buffer[] {
    const out = this.full;
    this.full = [];
    return out;
  }

  /** Writes the trailer; returns the buffers not yet taken, the last one with it. */
  end(): Buffer[] {
    this.room(2);
    this.at = this.buf.writeInt16BE(-1, this.at);
    this.full.push(this.buf.subarray(0, this.at));
    this.buf = Buffer.alloc(0);
    this.at = 0;
    return this.take();
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    if (this.at > 0) this.full.push(this.buf.subarray(0, this.at));
    this.buf = Buffer.allocUnsafe(Math.max(this.chunkBytes, bytes));
    this.at = 0;
  }
}
