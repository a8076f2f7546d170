import type { Readable } from 'node:stream';

/**
 * An error the CLI reports: on stderr, or as `{status: "error", error, code}`
 * on stdout with --json. Exit codes: 1 failure, 2 usage.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** Stable code for machines: the API's error code, `usage`, `missing_api_key`, `unreachable` or `failed`. */
    readonly code: string = exitCode === 2 ? 'usage' : 'failed',
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  /** Base URL of the API (KDB_API_URL). */
  url: string;
  /** Bearer token (KDB_API_KEY); omitted when empty. */
  apiKey?: string | undefined;
}

/** The CLI talks only to the HTTP API, never to Postgres or Redis. */
export class ApiClient {
  constructor(private readonly opts: ApiClientOptions) {}

  async request<T>(method: string, path: string, body?: { json: unknown } | { ndjson: Readable }, extraHeaders: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    let payload: RequestInit['body'];
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = 'application/x-ndjson';
      payload = body.ndjson as unknown as ReadableStream;
    }
    const url = new URL(path, this.opts.url.endsWith('/') ? this.opts.url : `${this.opts.url}/`);
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: payload, ...(body && 'ndjson' in body ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the API at ${this.opts.url} (KDB_API_URL): ${cause?.code ?? cause?.message ?? (err as Error).message}`, 1, 'unreachable');
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new CliError(`the API answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      // Without a key the server's 401 says "invalid API key"; the cause is the unset variable, a usage error.
      if (res.status === 401 && !this.opts.apiKey) {
        throw new CliError(`KDB_API_KEY is not set: the API at ${this.opts.url} requires an API key (set KDB_API_KEY or pass --api-key)`, 2, 'missing_api_key');
      }
      const e = (data as { error?: { code?: string; message?: string } } | null)?.error;
      throw new CliError(e ? `${e.message} (${e.code}, HTTP ${res.status})` : `the API answered HTTP ${res.status}`, 1, e?.code ?? `http_${res.status}`);
    }
    return data as T;
  }
}
