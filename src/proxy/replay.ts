/**
 * Answers from the cache: the stored bytes exactly as upstream sent them,
 * with the stored content type. Never a re-encoding. By default at once; with
 * `realtime`, chunk by chunk at the pace they were recorded (for UI tests).
 *
 * `new Response(bytes)` copies the bytes into a new buffer of the JS heap on
 * every call, and in the proxy's heap that cost grew with the body: a 20 KB
 * SSE hit took 21.7 µs of CPU against 12.3 for a 2 KB one (Deno 2.9.6). A
 * string body is not copied there. So a body replayed a second time whose
 * bytes are all ASCII, which every encoding spells alike, is kept as a string
 * for as long as the body itself is kept (in the hot tier), and answered as
 * that string from then on: 11.6 µs for the 20 KB SSE hit, 10.7 for the 2 KB
 * one. Any other body is answered as bytes, as is a body seen only once. The
 * strings at most double the memory of the hot tier's ASCII bodies, and go
 * with them.
 *
 * @module
 */
import type { CachedAnswer } from "../store/store.ts";

/**
 * Builds the response that replays `entry`.
 *
 * @param entry the stored response
 * @param realtime send the body at the recorded pace, when the entry has timing
 * @returns the response, labelled `x-cache: HIT`
 */
export function replay(entry: CachedAnswer, realtime = false): Response {
  // Headers set one by one on a bare Response cost a quarter of a headers init
  // (measured on Deno 2.9.6: ~2 µs against ~5-10 µs), and this runs on every hit.
  const body = realtime && entry.timing.length > 1
    ? paced(entry.body, entry.timing)
    : asciiText(entry.body) ?? entry.body as Uint8Array<ArrayBuffer>;
  const response = entry.status === 200
    ? new Response(body)
    : new Response(body, { status: entry.status });
  response.headers.set("content-type", entry.contentType);
  response.headers.set("x-cache", "HIT");
  return response;
}

const ONCE = Symbol("replayed once");
/** Each replayed body: ONCE after its first replay, then its text when all ASCII, else null. */
const replayed = new WeakMap<Uint8Array, typeof ONCE | string | null>();
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true }); // a BOM stays, and is not ASCII
const NOT_ASCII = /[\u0080-\uffff]/; // any UTF-16 unit past ASCII

/** `body` as a string, from its second replay on, when every byte is ASCII. */
function asciiText(body: Uint8Array): string | undefined {
  const known = replayed.get(body);
  if (known === undefined) {
    replayed.set(body, ONCE); // one replay is no reason to decode it
    return undefined;
  }
  if (known !== ONCE) return known ?? undefined;
  // A byte past 0x7f decodes to a character past it (U+FFFD when invalid).
  const text = utf8.decode(body);
  const ascii = !NOT_ASCII.test(text);
  replayed.set(body, ascii ? text : null);
  return ascii ? text : undefined;
}

/** The body as a stream that sends each recorded chunk when it first arrived. */
function paced(
  body: Uint8Array,
  timing: readonly (readonly [number, number])[],
): ReadableStream<Uint8Array> {
  const start = performance.now();
  let index = 0;
  let offset = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const [end, atMs] = timing[index]!;
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          controller.enqueue(body.subarray(offset, end));
          offset = end;
          if (++index === timing.length) {
            if (offset < body.byteLength) controller.enqueue(body.subarray(offset));
            controller.close();
          }
          resolve();
        }, Math.max(0, start + atMs - performance.now()));
      });
    },
    cancel() {
      clearTimeout(timer);
    },
  });
}
