/**
 * The few error classes of the project. Each has a stable `code`; only the
 * API maps them to HTTP statuses.
 */
export type ErrorCode =
  | 'invalid_input'
  | 'not_found'
  | 'conflict'
  /** An id prefix that matches several records (409; the candidates in details). */
  | 'ambiguous_id'
  /** A request over a configured size limit (413): the limit in details. */
  | 'too_large'
  | 'unauthorized'
  | 'config'
  | 'schema'
  | 'provider'
  /** A service the call needs (Redis) did not answer in time. */
  | 'unavailable';

export class KdbError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, opts: { details?: unknown; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = opts.details;
  }
}

/** Bad input from a caller: names the value and what is allowed. */
export class ValidationError extends KdbError {
  constructor(message: string, details?: unknown) {
    super('invalid_input', message, { details });
  }
}

export class NotFoundError extends KdbError {
  constructor(message: string, details?: unknown) {
    super('not_found', message, { details });
  }
}

export class ConflictError extends KdbError {
  constructor(message: string, details?: unknown) {
    super('conflict', message, { details });
  }
}

/** An id prefix matching more than one record: the caller must give more characters. */
export class AmbiguousIdError extends KdbError {
  constructor(message: string, details?: unknown) {
    super('ambiguous_id', message, { details });
  }
}

/** More records in one request than the configured cap (KDB_MAX_RECORDS_PER_REQUEST). */
export class TooManyRecordsError extends KdbError {
  constructor(message: string, details?: unknown) {
    super('too_large', message, { details });
  }
}

/** Wrong or missing configuration, detected at start-up. */
export class ConfigError extends KdbError {
  constructor(message: string, details?: unknown) {
    super('config', message, { details });
  }
}

/** The database is not in a state this version can use (pgvector missing, dimension mismatch). */
export class SchemaError extends KdbError {
  constructor(message: string, opts: { details?: unknown; cause?: unknown } = {}) {
    super('schema', message, opts);
  }
}

/** An embedding provider failed; `retryable` tells the batcher whether to try again. */
export class ProviderError extends KdbError {
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** From `retry-after-ms` / `retry-after` on a 429 or 503. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, opts: { retryable: boolean; status?: number; retryAfterMs?: number | undefined; cause?: unknown }) {
    super('provider', message, { cause: opts.cause, details: { status: opts.status } });
    this.retryable = opts.retryable;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}
