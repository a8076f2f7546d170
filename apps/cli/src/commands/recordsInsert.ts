import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import type { InsertAnswer, KameleonClient } from '@kameleondb/client';
import { CliError } from '../CliError.js';
import type { CommandResult } from '../output.js';

export interface RecordsInsertOptions {
  /** NDJSON (`.jsonl`, `-` for stdin, or any file with --batch), or a `.json` file of one record or an array. */
  file?: string | undefined;
  /** Inline JSON: one record or an array (KameleonDB's `data insert Contact '{...}'`). */
  data?: string | undefined;
  /** The file is JSONL whatever its name (KameleonDB's --batch). */
  batch?: boolean;
  wait?: boolean;
  /** Sent as `Idempotency-Key`: running the same command again never inserts twice. */
  idempotencyKey?: string | undefined;
  /** Show a progress line on stderr (only on a TTY). */
  progress: boolean;
}

/** A JSON text of one record or an array of records; anything else is a usage error naming `where`. */
function parseRecords(text: string, where: string): Record<string, unknown> | Record<string, unknown>[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${where} is not JSON (${(err as Error).message}); give one record '{"name": "John"}' or an array '[{...}, {...}]'`, 2);
  }
  const isRecord = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (!isRecord(v) && !(Array.isArray(v) && v.every(isRecord))) throw new CliError(`${where} must be a JSON object (one record) or an array of objects`, 2);
  return v as Record<string, unknown> | Record<string, unknown>[];
}

/**
 * Inserts inline JSON, a `.json` file, or streams an NDJSON file (or `-` for
 * stdin) to the API without loading it in memory.
 */
export async function recordsInsert(api: KameleonClient, entity: string, opts: RecordsInsertOptions): Promise<CommandResult<InsertAnswer>> {
  const insertOpts = { wait: opts.wait ?? false, ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}) };
  if (opts.data !== undefined && opts.file) throw new CliError('give the records inline or with --file, not both', 2);
  if (opts.data !== undefined) return described(entity, await api.records.insert(entity, parseRecords(opts.data, 'the record JSON'), insertOpts));
  if (!opts.file) throw new CliError(`give the records: kameleondb records insert ${entity} '{"field": "value"}', or --file records.jsonl (- for stdin)`, 2);
  if (!opts.batch && /\.json$/i.test(opts.file)) {
    return described(entity, await api.records.insert(entity, parseRecords(await readFile(opts.file, 'utf8'), opts.file), insertOpts));
  }
  const file = opts.file;
  const source: Readable = file === '-' ? process.stdin : createReadStream(file);
  const total = file === '-' ? 0 : (await stat(file)).size;
  let sent = 0;
  let lastDraw = 0;
  const draw = (final = false) => {
    if (!opts.progress) return;
    const now = Date.now();
    if (!final && now - lastDraw < 100) return;
    lastDraw = now;
    const pct = total ? ` ${((100 * sent) / total).toFixed(0).padStart(3)}%` : '';
    process.stderr.write(`\r uploading${pct} ${(sent / 1e6).toFixed(1)} MB${total ? ` of ${(total / 1e6).toFixed(1)} MB` : ''}${final ? (opts.wait ? ', embedding…\n' : '\n') : ''}`);
  };
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      draw();
      cb(null, chunk);
    },
    flush(cb) {
      draw(true);
      cb();
    },
  });
  return described(entity, await api.records.insertNdjson(entity, source.pipe(counter), insertOpts));
}

function described(entity: string, answer: InsertAnswer): CommandResult<InsertAnswer> {
  return {
    data: answer,
    human: (a) => {
      const lines = a.replayed
        ? [`already inserted: ${a.count} records into ${entity} by an earlier request with this idempotency key (nothing written; ${a.jobs} embed jobs for rows still pending)`]
        : [`inserted ${a.count} records into ${entity} (${a.jobs} embed jobs)`];
      if (a.counts) lines.push(`embedded: ${a.counts.ready} ready, ${a.counts.failed} failed, ${a.counts.pending} pending`);
      if (a.warning) lines.push(`warning: ${a.warning}`);
      return lines.join('\n');
    },
  };
}
