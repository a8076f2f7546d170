import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HashProvider } from '@kameleondb/core';

export interface RecordedRequest {
  model: string;
  input: string[];
  dimensions: number | undefined;
  encodingFormat: string | undefined;
  authorization: string | undefined;
  /** When it arrived (ms since epoch) and the status it got. */
  at: number;
  status: number;
}

export interface FakeOpenAI {
  /** Base URL to give the SDK (ends in /v1). */
  url: string;
  requests: RecordedRequest[];
  /** The vector this server returns for a text (hash features, so tests can compute it). */
  vectorOf(text: string, dimensions: number): Float32Array;
  /** Milliseconds to wait before answering each request. */
  delayMs: number;
  /**
   * Words embedded as other words (`{car: 'automobile'}`), so that texts
   * with no word in common can still be near, as with a semantic model.
   */
  aliases: Record<string, string>;
  /** Inputs matching this answer 400 naming the input, as OpenAI does for one bad input. */
  rejectInput: RegExp | undefined;
  /** The next `count` requests answer 429 with `retry-after-ms`. */
  rateLimit: { count: number; retryAfterMs: number } | undefined;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A local server speaking OpenAI's embeddings wire format (POST /v1/embeddings,
 * float or base64 encoding, usage), recording every request. It stands in
 * only for what cannot be reached from here: api.openai.com.
 */
export async function startFakeOpenAI(opts: { delayMs?: number } = {}): Promise<FakeOpenAI> {
  const providers = new Map<number, HashProvider>();
  const vectorOf = (text: string, dims: number) => {
    let p = providers.get(dims);
    if (!p) providers.set(dims, (p = new HashProvider({ dimensions: dims })));
    const aliased = text.replace(/[\p{L}\p{N}]+/gu, (w) => fake.aliases[w.toLowerCase()] ?? w);
    return p.embedOne(aliased);
  };
  const fake: FakeOpenAI = {
    url: '',
    requests: [],
    vectorOf,
    delayMs: opts.delayMs ?? 0,
    aliases: {},
    rejectInput: undefined,
    rateLimit: undefined,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } }));
        return;
      }
      const body = (await readJson(req)) as { model: string; input: string | string[]; dimensions?: number; encoding_format?: string };
      const input = Array.isArray(body.input) ? body.input : [body.input];
      const recorded: RecordedRequest = {
        model: body.model,
        input,
        dimensions: body.dimensions,
        encodingFormat: body.encoding_format,
        authorization: req.headers.authorization,
        at: Date.now(),
        status: 200,
      };
      fake.requests.push(recorded);
      if (fake.rateLimit && fake.rateLimit.count > 0) {
        fake.rateLimit.count -= 1;
        recorded.status = 429;
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': String(fake.rateLimit.retryAfterMs) });
        res.end(JSON.stringify({ error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }));
        return;
      }
      if (fake.delayMs) await new Promise((r) => setTimeout(r, fake.delayMs));
      const poisoned = fake.rejectInput ? input.findIndex((t) => fake.rejectInput!.test(t)) : -1;
      if (poisoned >= 0) {
        recorded.status = 400;
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `'$.input[${poisoned}]' contains content this model cannot embed`, type: 'invalid_request_error', param: 'input' } }));
        return;
      }
      const bad = input.findIndex((t) => typeof t !== 'string' || t === '');
      if (bad >= 0 || input.length > 2048) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: bad >= 0 ? `'$.input[${bad}]' is invalid` : 'too many inputs', type: 'invalid_request_error', param: 'input' } }));
        return;
      }
      const dims = body.dimensions ?? 1536;
      const data = input.map((text, index) => {
        const v = vectorOf(text, dims);
        const embedding = body.encoding_format === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v);
        return { object: 'embedding', index, embedding };
      });
      const tokens = input.reduce((n, t) => n + t.split(/\s+/).length, 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }));
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err), type: 'server_error' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return fake;
}
