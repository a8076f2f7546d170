/** What a json value's node weighs in recordChars beside its strings: a parsed `{}` or `[]` element takes tens of bytes of heap. */
const NODE_CHARS = 32;

/**
 * Characters a validated record holds, as a measure of what it costs in
 * memory: its strings' lengths and keys, and NODE_CHARS for every other
 * value, json values walked node by node (validateRecord bounds their size
 * and depth). A chunk of records is bounded by this, not only by count.
 */
export function recordChars(record: Readonly<Record<string, unknown>>): number {
  let n = 0;
  const stack: unknown[] = [];
  for (const key in record) {
    n += key.length;
    stack.push(record[key]);
  }
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') n += v.length;
    else {
      n += NODE_CHARS;
      if (typeof v === 'object' && v !== null) {
        if (Array.isArray(v)) for (const x of v) stack.push(x);
        else
          for (const [k, x] of Object.entries(v)) {
            n += k.length;
            stack.push(x);
          }
      }
    }
  }
  return n;
}
