/** What a test request got back: the status, the body (parsed JSON, else the text, `null` when empty) and the headers. */
export interface HttpAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}


/**
 * The tests' one HTTP helper. Sends exactly the given headers (fetch adds
 * only content-length) and the body as given; `signal` bounds a request that
 * could hang.
 */
export async function send<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string; signal?: AbortSignal } = {},
): Promise<HttpAnswer<T>> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: opts.headers ?? {},
    ...(opts.body === undefined ? {} : { body: typeof opts.body === 'string' ? opts.body : new Uint8Array(opts.body) }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

/**
 * `call('POST', '/v1/x', body, headers?)` → `{status, body, headers}`, with the
 * API key as a bearer token when one is given. A body that is not text or
 * bytes is sent as JSON with its content type; `headers` add to or replace
 * the defaults.
 */
export function jsonClient(baseUrl: string, apiKey?: string) {
  return function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
    const raw = typeof body === 'string' || Buffer.isBuffer(body);
    return send<T>(baseUrl, method, path, {
      headers: {
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: raw ? (body as string | Buffer) : JSON.stringify(body) }),
    });
  };
}

/** Polls `check` until it returns a truthy value; fails after `timeoutMs`. */
export async function until<T>(check: () => Promise<T | undefined | false | null> | T | undefined | false | null, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
