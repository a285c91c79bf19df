/**
 * Answers from the cache: the stored bytes exactly as upstream sent them,
 * with the stored content type. Never a re-encoding.
 *
 * @module
 */
import type { CacheEntry } from "../store/store.ts";

/**
 * Builds the response that replays `entry`.
 *
 * @param entry the stored response
 * @returns the response, labelled `x-cache: HIT`
 */
export function replay(entry: CacheEntry): Response {
  // Headers set one by one on a bare Response cost a quarter of a headers init
  // (measured on Deno 2.9.6: ~2 µs against ~5-10 µs), and this runs on every hit.
  const body = entry.body as Uint8Array<ArrayBuffer>;
  const response = entry.status === 200
    ? new Response(body)
    : new Response(body, { status: entry.status });
  response.headers.set("content-type", entry.contentType);
  response.headers.set("x-cache", "HIT");
  return response;
}
