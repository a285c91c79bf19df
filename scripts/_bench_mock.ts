/**
 * The mock Anthropic API as its own process, for `scripts/bench.ts`: prints
 * `mock listening on http://127.0.0.1:PORT` and runs until SIGTERM.
 *
 * @module
 */
import { startMockAnthropic } from "../tests/support/mock_anthropic.ts";

if (import.meta.main) {
  const mock = await startMockAnthropic();
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  console.log(`mock listening on ${mock.url}`);
  // The mock records every call; forget them now and then so a long bench stays small.
  const trim = setInterval(() => mock.reset(), 1000);
  await stop.promise;
  clearInterval(trim);
  await mock.close();
}
