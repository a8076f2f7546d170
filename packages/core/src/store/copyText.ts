import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

const escape = (v: string | number) => String(v).replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);

/** COPY of rows in text format (for narrow rows of text, ids and integers). */
export async function copyText(client: pg.ClientBase, table: string, columns: readonly string[], rows: Iterable<readonly (string | number)[]>): Promise<void> {
  if (Array.isArray(rows) && rows.length === 0) return;
  const stream = client.query(copyStreams.from(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  function* lines() {
    let buf = '';
    for (const row of rows) {
      buf += `${row.map(escape).join('\t')}\n`;
      if (buf.length > 1 << 16) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  }
  await pipeline(Readable.from(lines()), stream);
}
