/**
 * Decides whether a request path may be routed and forwarded as it is, so a
 * path can never climb out of `/v1/` on its way upstream.
 *
 * @module
 */

/**
 * What could make a path mean something else once a URL parser or the
 * upstream server reads it again: a dot segment (`/./`, `/../`, or one at the
 * end), a backslash (WHATWG URL parsing treats it as `/` in http URLs), a
 * fragment, or a percent-escape of `.`, `/`, `\` or `%` (so `%2e%2e`, `.%2E`,
 * `%2f` and double encodings like `%252e`), in any case. None of these appear
 * in a path the Anthropic API serves.
 */
const UNSAFE = /\/\.\.?(?:\/|$)|\\|#|%(?:2e|2f|5c|25)/i;

/**
 * Whether `path` (the request target without its query, as the client sent
 * it) is already normalized and free of anything that could be re-read as a
 * dot segment or a slash. One regular-expression test (~20 ns): it runs on
 * every request, hits included.
 *
 * @param path the path, e.g. `/v1/messages`
 * @returns false for a path that must be refused
 * @example
 * ```ts
 * isSafePath("/v1/messages"); // true
 * isSafePath("/v1/%2e%2e/cache/entries"); // false
 * ```
 */
export function isSafePath(path: string): boolean {
  return !UNSAFE.test(path);
}
