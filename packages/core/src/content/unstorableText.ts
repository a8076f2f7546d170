// A high surrogate not followed by a low one, or a low one without a high one before it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why Postgres cannot store this string in a text or jsonb value (it fails
 * the statement with 22P05), or undefined when it can.
 */
export function unstorableText(s: string): string | undefined {
  if (s.includes('\u0000')) return 'a NUL character (\\u0000), which Postgres cannot store';
  if (LONE_SURROGATE.test(s)) return 'a lone UTF-16 surrogate (not valid Unicode), which Postgres cannot store';
  return undefined;
}
