import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowAnsweringApi {
  url: string;
  close(): Promise<void>;
}

/**
 * A stand-in for the API answering a large insert: it reads the whole (streamed) body, counts its records
 * (NDJSON lines, or the JSON array), and only after `delayMs` sends headers and an insert answer, as the real
 * API does after its commit. A path containing `slowBody` sends the headers at once and the body after the
 * delay instead (a slow answer body).
 */
export function startSlowAnsweringApi(delayMs: number): Promise<SlowAnsweringApi> {
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, delayMs);
    timers.add(t);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const count = req.headers['content-type'] === 'application/x-ndjson' ? body.split('\n').filter((l) => l.trim()).length : [JSON.parse(body) as unknown].flat().length;
      const answer = JSON.stringify({ count, ids: [], jobs: 1, replayed: false, wait: req.url?.includes('wait=true') ?? false });
      if (req.url?.includes('slowBody')) {
        res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
        later(() => res.end(answer));
      } else {
        later(() => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
      }
    });
  };
  const server = createServer(handle);
  const api: SlowAnsweringApi = {
    url: '',
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve(api);
    });
  });
}
