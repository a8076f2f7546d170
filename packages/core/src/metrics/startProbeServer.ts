import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PipelineMetrics } from './PipelineMetrics.js';
import type { Readiness } from './checkReadiness.js';

/**
 * A worker's HTTP side door: `/metrics` (Prometheus), `/healthz` (process
 * up), `/readyz` (Postgres, Redis, migrations). Unauthenticated: bind it to
 * a network only the scraper and the orchestrator reach.
 */
export async function startProbeServer(opts: {
  port: number;
  host?: string;
  metrics: PipelineMetrics;
  readiness: () => Promise<Readiness>;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
        res.end(await opts.metrics.registry.metrics());
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"ok"}');
      } else if (req.url === '/readyz') {
        const r = await opts.readiness();
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: r.ready ? 'ready' : 'unavailable', ...r }));
      } else {
        res.writeHead(404).end();
      }
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host ?? '0.0.0.0', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
