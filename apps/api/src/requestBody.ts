import { constants as bufferConstants } from 'node:buffer';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Request } from 'express';
import { printable, ValidationError } from '@kameleondb/core';
import { HttpError } from './HttpError.js';
import { assertCleanJson } from './assertCleanJson.js';

export const JSON_TYPE = 'application/json';
export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson'];

/** True when the request carries body bytes (or says it will, chunked). */
export function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = req.headers['content-length'];
  return len !== undefined && len !== '0';
}

/**
 * The request's media type, lower-case, checked against `allowed`: a missing
 * or other type is 415, and so is a charset other than UTF-8 (the body is
 * always decoded as UTF-8; another charset would be read wrongly).
 */
export function mediaType(req: Request, allowed: readonly string[]): string {
  const header = req.get('content-type');
  const list = allowed.join(' or ');
  if (!header) throw new HttpError(415, 'unsupported_media_type', `Content-Type is required: send ${list}`, { allowed });
  const [type = '', ...params] = header.split(';').map((s) => s.trim());
  const mt = type.toLowerCase();
  if (!allowed.includes(mt)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type "${printable(type, 80)}" is not accepted here: send ${list}`, { allowed });
  }
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') {
      throw new HttpError(415, 'unsupported_media_type', `charset "${printable(charset, 40)}" is not supported: send UTF-8 (charset=utf-8, or no charset)`, { allowed: ['utf-8'] });
    }
  }
  return mt;
}

const DECODERS: Record<string, (() => Transform) | null> = {
  identity: null,
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The body's bytes after Content-Encoding is undone, at most `limit` of
 * them: a larger body (counted after decompression, so a small gzip bomb
 * counts at its real size) errors with 413; data that is not what its
 * encoding says errors with 400. On any error the rest of the request is
 * read and dropped, so the client gets the answer instead of a reset.
 */
export function decodedBody(req: Request, limit: number): Readable {
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase() || 'identity';
  if (!(encoding in DECODERS)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Encoding "${printable(encoding, 40)}" is not supported: send gzip, deflate, br or none`, {
      allowed: Object.keys(DECODERS),
    });
  }
  const tooLarge = () => new HttpError(413, 'too_large', `request body over the limit of ${limit} bytes (KDB_MAX_BODY), counted after decompression`, { limit });
  const declared = Number(req.get('content-length'));
  if (encoding === 'identity' && declared > limit) {
    req.resume();
    throw tooLarge();
  }
  const counter = () => {
    let total = 0;
    return new Transform({
      transform(chunk: Buffer, _enc, cb) {
        total += chunk.length;
        if (total > limit) cb(tooLarge());
        else cb(null, chunk);
      },
    });
  };
  const counted = counter();
  // The route may read the stream only later (after its entity lookup or transaction start); an error
  // before then stays on the stream (its reader's first read rejects with it) instead of being an
  // 'error' with no listener, which would end the process.
  counted.on('error', () => {});
  // The compressed bytes count too: empty gzip members decompress to nothing, forever.
  const raw = counter();
  raw.on('error', (err) => counted.destroy(err));
  const decoder = DECODERS[encoding]?.() ?? new PassThrough();
  decoder.on('error', (err) => counted.destroy(err instanceof HttpError ? err : new ValidationError(`body is not valid ${encoding} data (${printable(err.message, 80)})`)));
  // A client that hangs up mid-body is not a server fault (the answer cannot reach it anyway).
  req.on('error', () => counted.destroy(new HttpError(400, 'aborted', 'the request body was cut off: the client closed the connection')));
  counted.on('close', () => {
    if (req.complete) return;
    req.unpipe(raw);
    raw.destroy();
    decoder.destroy();
    req.resume();
  });
  req.pipe(raw).pipe(decoder).pipe(counted);
  return counted;
}

/**
 * Reads a whole JSON body: UTF-8 only (invalid bytes are 400, not replaced),
 * a leading BOM dropped, no NUL or lone surrogates anywhere (see
 * assertCleanJson). An empty body is 400.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  // The largest string V8 makes: a longer JSON text cannot be parsed at all.
  const max = Math.min(limit, bufferConstants.MAX_STRING_LENGTH);
  const chunks: Buffer[] = [];
  for await (const chunk of decodedBody(req, max)) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError('body is not valid UTF-8: send JSON as UTF-8 text');
  }
  if (text.trim() === '') throw new ValidationError('body is empty: send a JSON value');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`body is not valid JSON (${printable((err as Error).message)})`);
  }
  assertCleanJson(value, 'body');
  return value;
}
