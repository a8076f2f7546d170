/**
 * An HTTP-level refusal that has no core error code: 413 (body too large),
 * 415 (media type or encoding), 403 (cross-site), 429 (too many bad keys).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
