import { MAX_JSON_DEPTH, unstorableText, ValidationError } from '@kameleondb/core';

const isArrayIndex = (k: string) => /^\d+$/.test(k);
const join = (path: string, key: string) => (isArrayIndex(key) ? `${path}[${key}]` : `${path}.${key}`);

/**
 * Refuses what Postgres cannot store or what would change an object's
 * prototype, wherever it sits in a parsed body or query value:
 * - `\u0000` (text and jsonb cannot hold it: error 22P05) and lone
 *   surrogates (not Unicode text), in values and keys;
 * - the key `__proto__` (JSON.parse makes it an own key; spread, zod
 *   records and plain assignment then drop it or replace the prototype);
 * - nesting deeper than MAX_JSON_DEPTH.
 * Iterative, so a deeply nested body cannot overflow the stack here.
 */
export function assertCleanJson(value: unknown, where: string): void {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: where, depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      checkText(v, path);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) throw new ValidationError(`${path}: nested deeper than ${MAX_JSON_DEPTH} levels, the most allowed`, { at: path });
    for (const key of Object.keys(v)) {
      if (key === '__proto__') throw new ValidationError(`${path}: the key "__proto__" is not allowed`, { at: path, key });
      checkText(key, `${path} (a key)`);
      stack.push({ v: (v as Record<string, unknown>)[key], path: join(path, key), depth: depth + 1 });
    }
  }
}

/** `\u0000` and lone surrogates are refused in any text a client sends. */
export function checkText(s: string, where: string): void {
  const why = unstorableText(s);
  if (why) throw new ValidationError(`${where}: holds ${why}`, { at: where });
}
