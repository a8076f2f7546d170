import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import type { InsertAnswer, KameleonClient } from '@kameleondb/client';
import type { CommandResult } from '../output.js';

export interface RecordsInsertOptions {
  file: string;
  wait?: boolean;
  /** Sent as `Idempotency-Key`: running the same command again never inserts twice. */
  idempotencyKey?: string | undefined;
  /** Show a progress line on stderr (only on a TTY). */
  progress: boolean;
}

/** Streams an NDJSON file (or `-` for stdin) to the API without loading it in memory. */
export async function recordsInsert(api: KameleonClient, entity: string, opts: RecordsInsertOptions): Promise<CommandResult<Omit<InsertAnswer, 'ids'> & { ids?: string[] }>> {
  const source: Readable = opts.file === '-' ? process.stdin : createReadStream(opts.file);
  const total = opts.file === '-' ? 0 : (await stat(opts.file)).size;
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
  const answer = await api.records.insertNdjson(entity, source.pipe(counter), {
    wait: opts.wait,
    ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
  });
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
