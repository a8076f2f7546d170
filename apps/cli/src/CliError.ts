import { KameleonApiError, type KameleonClient } from '@kameleondb/client';

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

/** A client failure as the CLI reports it; anything else is passed through. */
export function toCliError(err: unknown, api: KameleonClient): unknown {
  if (!(err instanceof KameleonApiError)) return err;
  // Without a key the server's 401 says "invalid API key"; the cause is the unset variable, a usage error.
  if (err.status === 401 && !api.hasApiKey) {
    return new CliError(`KDB_API_KEY is not set: the API at ${api.url} requires an API key (set KDB_API_KEY or pass --api-key)`, 2, 'missing_api_key');
  }
  if (err.code === 'unreachable') return new CliError(`${err.message.replace(/^cannot reach the API at \S+:/, `cannot reach the API at ${api.url} (KDB_API_URL):`)}`, 1, 'unreachable');
  if (err.status === 0) return new CliError(err.message, 1, err.code);
  return new CliError(`${err.message} (${err.code}, HTTP ${err.status})`, 1, err.code);
}
