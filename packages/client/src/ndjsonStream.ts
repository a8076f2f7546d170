/**
 * An NDJSON request body pulled from `source`: fetch asks for the next chunk
 * only when the socket has taken the previous ones, so a producer of any
 * size is read no faster than the network sends (backpressure), and at most
 * about `highWaterMark` bytes wait in memory.
 */
export function ndjsonStream(source: AsyncIterable<unknown> | Iterable<unknown>, highWaterMark = 64 * 1024): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : toAsync(source[Symbol.iterator]());
  return new ReadableStream<Uint8Array>(
    {
      // One pull produces about a chunk of lines; a record never straddles two chunks.
      async pull(controller) {
        let text = '';
        while (text.length < 16 * 1024) {
          const next = await it.next();
          if (next.done) {
            if (text) controller.enqueue(encoder.encode(text));
            controller.close();
            return;
          }
          const line = JSON.stringify(next.value);
          if (line === undefined) throw new TypeError(`an NDJSON line must be a JSON value; got ${typeof next.value}`);
          text += `${line}\n`;
        }
        controller.enqueue(encoder.encode(text));
      },
      async cancel(reason) {
        await it.return?.(reason);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
}

/** Bytes already in NDJSON form (a file, stdin), passed through with the same backpressure. */
export function byteStream(source: AsyncIterable<Uint8Array | string>, highWaterMark = 64 * 1024): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await it.next();
        if (next.done) controller.close();
        else controller.enqueue(typeof next.value === 'string' ? encoder.encode(next.value) : next.value);
      },
      async cancel(reason) {
        await it.return?.(reason);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
}

async function* toAsync<T>(it: Iterator<T>): AsyncGenerator<T> {
  for (let n = it.next(); !n.done; n = it.next()) yield n.value;
}
