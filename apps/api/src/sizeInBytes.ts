const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** `262144`, `512kb`, `256mb`, `1gb` (powers of 1024, as KDB_MAX_BODY is documented) to bytes. */
export function sizeInBytes(text: string): number {
  const m = /^(\d+)(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a size: use a number of bytes or a number with b, kb, mb or gb`);
  return Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!;
}
