import { ValidationError } from '@kameleondb/core';
import { checkText } from './assertCleanJson.js';

const decode = (s: string, what: string): string => {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new ValidationError(`${what} has a bad %-escape or is not UTF-8: percent-encode UTF-8 bytes (%20, %C3%A9)`);
  }
};

/**
 * A raw query string to a prototype-less map of strings, refusing what a
 * lenient parser would guess at: a bad %-escape or invalid UTF-8, NUL or a
 * lone surrogate, and a parameter given twice (`?q=a&q=b` is ambiguous).
 */
export function parseQueryString(raw: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq), 'a query parameter name');
    checkText(key, 'a query parameter name');
    const value = decode(eq < 0 ? '' : part.slice(eq + 1), `query parameter ${JSON.stringify(key)}`);
    checkText(value, `query parameter ${key}`);
    if (key in out) throw new ValidationError(`query parameter ${key} was given twice: give it once`, { parameter: key });
    out[key] = value;
  }
  return out;
}
