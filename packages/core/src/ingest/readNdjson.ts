import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ValidationError } from '../errors.js';

export interface SourcedValue {
  value: unknown;
  /** Where the value came from, for error messages: `line 12`, `records[3]`. */
  where: string;
}

/** Parses newline-delimited JSON; blank lines are skipped, a bad line names its number. */
export async function* readNdjson(stream: Readable): AsyncGenerator<SourcedValue> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new ValidationError(`line ${n}: not valid JSON (${(err as Error).message})`, { line: n });
    }
    yield { value, where: `line ${n}` };
  }
}

/** A JSON body as sourced values: an array gives `records[i]`, an object is one record. */
export function* fromJsonBody(body: unknown): Generator<SourcedValue> {
  if (Array.isArray(body)) {
    for (let i = 0; i < body.length; i++) yield { value: body[i], where: `records[${i}]` };
  } else {
    yield { value: body, where: 'body' };
  }
}
