import { ValidationError } from '../errors.js';
import { printable } from '../http/printable.js';

export interface SourcedValue {
  value: unknown;
  /** Where the value came from, for error messages: `line 12`, `records[3]`. */
  where: string;
}

export interface ReadNdjsonOptions {
  /**
   * Longest line, in characters. A line is held whole before it is parsed,
   * so this bounds memory and stays under the engine's largest string (a
   * longer line once crashed the process with `Invalid string length`).
   */
  maxLineLength?: number;
}

/** V8's largest string on 64-bit is 2^29 - 24 characters. */
const MAX_STRING = 2 ** 29 - 24;

/**
 * Parses newline-delimited JSON from UTF-8 bytes (or text); blank lines are
 * skipped, a bad line names its number. Invalid UTF-8 is refused, not
 * replaced; a leading BOM is dropped, as for a JSON body.
 */
export async function* readNdjson(source: AsyncIterable<Uint8Array | string>, opts: ReadNdjsonOptions = {}): AsyncGenerator<SourcedValue> {
  const maxLine = Math.min(opts.maxLineLength ?? MAX_STRING, MAX_STRING);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let carry = '';
  let n = 0;
  let first = true;
  const decode = (chunk?: Uint8Array | string): string => {
    if (typeof chunk === 'string') return chunk;
    try {
      return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    } catch {
      throw new ValidationError(`line ${n + 1}: not valid UTF-8 (send NDJSON as UTF-8 text)`, { line: n + 1 });
    }
  };
  const tooLong = () =>
    new ValidationError(`line ${n + 1} is longer than ${maxLine} characters, the longest line allowed (KDB_MAX_BODY)`, { line: n + 1, limit: maxLine });
  const parse = (line: string): SourcedValue | null => {
    n += 1;
    if (line.trim() === '') return null;
    try {
      return { value: JSON.parse(line), where: `line ${n}` };
    } catch (err) {
      throw new ValidationError(`line ${n}: not valid JSON (${printable((err as Error).message)})`, { line: n });
    }
  };
  const lines = function* (text: string, final: boolean): Generator<SourcedValue> {
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      if (carry.length + nl - start > maxLine) throw tooLong();
      const line = carry + text.slice(start, nl);
      carry = '';
      start = nl + 1;
      const v = parse(line);
      if (v) yield v;
    }
    if (carry.length + text.length - start > maxLine) throw tooLong();
    carry += text.slice(start);
    if (final && carry !== '') {
      const v = parse(carry);
      carry = '';
      if (v) yield v;
    }
  };
  for await (const chunk of source) yield* lines(decode(chunk), false);
  yield* lines(decode(), true);
}

/** A JSON body as sourced values: an array gives `records[i]`, an object is one record. */
export function* fromJsonBody(body: unknown): Generator<SourcedValue> {
  if (Array.isArray(body)) {
    for (let i = 0; i < body.length; i++) yield { value: body[i], where: `records[${i}]` };
  } else {
    yield { value: body, where: 'body' };
  }
}
