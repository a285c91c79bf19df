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
  return new Response(entry.body as Uint8Array<ArrayBuffer>, {
    status: entry.status,
    headers: { "content-type": entry.contentType, "x-cache": "HIT" },
  });
}
