import { KameleonApiError } from './KameleonApiError.js';

/** The answer's body as text, read chunk by chunk and given up (the connection cancelled) past `maxBytes`. */
export async function readBoundedText(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    await res.body.cancel();
    throw tooLarge(res, maxBytes);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(res, maxBytes);
    }
    text += decoder.decode(value, { stream: true });
  }
}

const tooLarge = (res: Response, maxBytes: number) =>
  new KameleonApiError({ status: res.status, code: 'response_too_large', message: `the API's answer is over ${maxBytes} bytes (maxResponseBytes)` });
