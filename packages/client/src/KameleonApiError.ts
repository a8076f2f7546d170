/**
 * Every failure of a client call: an error answer of the API (its status,
 * code, message, details and request id), or no usable answer at all —
 * `status` 0 with code `unreachable`, `timeout`, `aborted`,
 * `response_too_large` or `invalid_response`.
 */
export class KameleonApiError extends Error {
  override readonly name = 'KameleonApiError';
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  /** The API's error code (`invalid_input`, `not_found`, `conflict`, …) or one of the client's own above. */
  readonly code: string;
  /** The API's details (the failing record, candidate ids…), or null. */
  readonly details: unknown;
  /** The API's request id (also in its logs), or null. */
  readonly requestId: string | null;

  constructor(init: { status: number; code: string; message: string; details?: unknown; requestId?: string | null; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? null;
    this.requestId = init.requestId ?? null;
  }
}
