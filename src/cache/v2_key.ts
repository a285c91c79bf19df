/**
 * llm-cache-proxy v2's cache key, for the entries imported from a v2 home:
 * the SHA-256 of the request's model, a line feed and the raw body bytes. v2
 * keyed nothing else (no path, no headers), so the tier that looks it up is
 * asked only what v2 itself would have answered.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * The key v2 gave a request body.
 *
 * @param model the body's `model`, or `""` when it names none (as v2 took it)
 * @param body the raw request body
 * @returns 64 lower-case hex digits
 */
export async function v2Key(model: string, body: Uint8Array): Promise<string> {
  const head = encoder.encode(`${model}\n`);
  const input = new Uint8Array(head.length + body.length);
  input.set(head);
  input.set(body, head.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
