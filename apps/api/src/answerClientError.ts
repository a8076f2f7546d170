import type { Duplex } from 'node:stream';
import { maxHeaderSize } from 'node:http';

/**
 * Answers a request Node's HTTP parser refused before Express saw it (a
 * request line and headers past maxHeaderSize, a malformed request) with
 * the API's JSON error shape, where Node would send a bare status or close
 * the socket. Nothing of the request was read, so nothing was written.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const [status, reason, code, message] = tooLarge
    ? [431, 'Request Header Fields Too Large', 'headers_too_large', `the request line and headers exceed ${maxHeaderSize} bytes: shorten the URL (a long search text fits the JSON body of POST /v1/search) or the headers`]
    : [400, 'Bad Request', 'bad_request', 'the request is not valid HTTP/1.1'];
  const body = JSON.stringify({ error: { code, message, details: null, requestId: null } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
