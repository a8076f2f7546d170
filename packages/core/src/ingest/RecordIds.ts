/**
 * Record ids held as 16 bytes each instead of one string apiece (about 60
 * bytes with its array slot): an ingest of a million records keeps its ids
 * for the answer and the embed jobs in 16 MB, grown in steps, never one
 * string array of all of them.
 */
export class RecordIds implements Iterable<string> {
  private bytes: Buffer;
  private n = 0;

  constructor(capacity = 1024) {
    this.bytes = Buffer.allocUnsafe(Math.max(1, capacity) * 16);
  }

  static of(ids: Iterable<string>): RecordIds {
    const out = new RecordIds();
    out.push(ids);
    return out;
  }

  get length(): number {
    return this.n;
  }

  push(ids: Iterable<string>): void {
    for (const id of ids) {
      if (this.n * 16 === this.bytes.length) {
        const grown = Buffer.allocUnsafe(this.bytes.length * 2);
        this.bytes.copy(grown, 0, 0, this.n * 16);
        this.bytes = grown;
      }
      const hex = id.replace(/-/g, '');
      if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a UUID: ${JSON.stringify(id.slice(0, 40))}`);
      this.bytes.write(hex, this.n * 16, 16, 'hex');
      this.n += 1;
    }
  }

  at(i: number): string | undefined {
    if (i < 0) i += this.n;
    if (i < 0 || i >= this.n) return undefined;
    const h = this.bytes.toString('hex', i * 16, i * 16 + 16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Ids `start` (inclusive) to `end` (exclusive) as strings. */
  slice(start: number, end = this.n): string[] {
    const out: string[] = [];
    for (let i = Math.max(0, start); i < Math.min(end, this.n); i++) out.push(this.at(i)!);
    return out;
  }

  /** The ids as consecutive string arrays of at most `size`: one slice in memory at a time. */
  *slices(size: number): Generator<string[]> {
    for (let i = 0; i < this.n; i += size) yield this.slice(i, i + size);
  }

  toArray(): string[] {
    return this.slice(0);
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.n; i++) yield this.at(i)!;
  }
}
