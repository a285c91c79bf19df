/**
 * Reads an upstream body into buffers sized to what arrives. Read the usual
 * way, fetch's body hands out every chunk in a fresh, zeroed 64 KiB buffer,
 * even a 100-byte SSE event or the empty read at the end: at 4,000 misses/s
 * that churn set off a full collection every ~120 ms. Read with buffers of our
 * own (a byte stream's "BYOB" reads), it is 4 KiB a read, doubling while reads
 * fill them, up to 64 KiB. Private to `src/proxy/`.
 *
 * @module
 */

const FIRST_BYTES = 4 * 1024;
const MAX_BYTES = 64 * 1024;

/** What the flight reads a body with: `read()` and `cancel()`, as a stream reader has them. */
export interface ChunkReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(): Promise<void>;
}

/**
 * A reader of `body`: with buffers of its own for a byte stream (fetch's
 * bodies), the stream's own reader for any other (the proxy's own answers).
 *
 * @param body the body to read
 * @returns the reader; it locks `body`
 */
export function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    return body.getReader(); // not a byte stream
  }
  let size = FIRST_BYTES;
  return {
    async read() {
      const next = await byob.read(new Uint8Array(size));
      if (next.done) return { done: true };
      if (next.value.byteLength === size) size = Math.min(2 * size, MAX_BYTES);
      return next;
    },
    cancel: () => byob.cancel(),
  };
}
