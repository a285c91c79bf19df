/**
 * Small helpers the end-to-end tests share: a free loopback port, a temporary
 * home folder, and waiting for a condition with a deadline instead of a sleep.
 *
 * @module
 */

/**
 * A loopback port nothing listens on right now.
 *
 * @returns the port
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * A temporary folder, removed with `await using`.
 *
 * @param prefix the folder name's prefix
 * @returns its path
 */
export async function tempHome(prefix = "home_"): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/**
 * Polls `check` every 50 ms until it returns a value.
 *
 * @param what what is awaited, for the timeout's message
 * @param check returns undefined until the condition holds
 * @param timeoutMs how long to wait
 * @returns the first value `check` returned
 * @throws {Error} after the timeout
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
