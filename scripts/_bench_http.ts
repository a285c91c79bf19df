/**
 * Requests that `scripts/bench.ts` sends itself (bodies come from the tests'
 * `messageBody`, so bench and tests send the same shape): a POST, a
 * sequential latency loop and a time-to-first-byte probe.
 *
 * @module
 */

/** Headers of every benchmark request, as a client of the Messages API sends them. */
export const HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json",
  "anthropic-version": "2023-06-01",
};

/**
 * POSTs `body` to `${base}/v1/messages` and reads the whole answer.
 *
 * @param base the server's base URL
 * @param body the JSON body
 * @param headers more headers, e.g. `x-api-key`
 * @returns status, `x-cache`, content type and body bytes
 */
export async function post(
  base: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; cache: string | null; contentType: string; bytes: Uint8Array }> {
  const res = await fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: { ...HEADERS, ...headers },
    body,
  });
  const bytes = await res.bytes();
  return {
    status: res.status,
    cache: res.headers.get("x-cache"),
    contentType: res.headers.get("content-type") ?? "",
    bytes,
  };
}

/**
 * Times sequential POSTs whole (send to last byte), checking each is a hit.
 *
 * @param base the proxy's base URL
 * @param bodies the bodies to send, in order
 * @returns one latency in ms per body
 * @throws when an answer is not a 200 `x-cache: HIT`
 */
export async function sequentialHits(base: string, bodies: readonly string[]): Promise<number[]> {
  const times: number[] = [];
  for (const body of bodies) {
    const t0 = performance.now();
    const res = await post(base, body);
    times.push(performance.now() - t0);
    if (res.status !== 200 || res.cache !== "HIT") {
      throw new Error(`expected a 200 HIT, got ${res.status} x-cache=${res.cache}`);
    }
  }
  return times;
}

/**
 * Time from sending a POST to the first `reader.read()` of its body
 * resolving; then cancels the body.
 *
 * @param base the server's base URL
 * @param body the JSON body
 * @returns milliseconds to the first byte, and the `x-cache` label
 */
export async function firstByte(
  base: string,
  body: string,
): Promise<{ ms: number; cache: string | null }> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/messages`, { method: "POST", headers: HEADERS, body });
  const reader = res.body!.getReader();
  const first = await reader.read();
  const ms = performance.now() - t0;
  await reader.cancel();
  if (res.status !== 200 || first.done) throw new Error(`no first byte (status ${res.status})`);
  return { ms, cache: res.headers.get("x-cache") };
}
