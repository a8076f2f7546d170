import type { Response } from 'express';
import type { RecordIds } from '@kameleondb/core';

/** Ids per write: the answer to a million-record ingest is written in slices, never built as one string. */
const IDS_PER_WRITE = 5000;

/**
 * Sends `{...head, ids: [...], ...tail}` as JSON, the ids written slice by
 * slice as the client reads them (a write waits for 'drain'), so the answer
 * costs memory of one slice whatever the count. A client gone mid-answer
 * ends the writing.
 */
export async function sendIdsAnswer(res: Response, status: number, head: Record<string, unknown>, ids: RecordIds, tail: Record<string, unknown>): Promise<void> {
  res.status(status).type('application/json');
  const open = JSON.stringify(head).slice(0, -1);
  const close = JSON.stringify(tail).slice(1);
  let out = `${open}${open.length > 1 ? ',' : ''}"ids":[`;
  let first = true;
  for (const slice of ids.slices(IDS_PER_WRITE)) {
    out += `${first ? '' : ','}"${slice.join('","')}"`;
    first = false;
    if (!res.write(out)) {
      await drainedOrClosed(res);
      if (res.destroyed) return;
    }
    out = '';
  }
  res.end(`${out}]${close.length > 1 ? ',' : ''}${close}`);
}

/** Resolves on the next 'drain' or 'close', leaving no listener behind (one write per slice would pile them up). */
function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
