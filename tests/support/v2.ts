/**
 * llm-cache-proxy v2 itself (npm `llm-cache-proxy@2.0.6`, installed by `npm ci` in
 * `tests/support/v2/`), started against the mock Anthropic API with a home of its own, so the
 * upgrade tests read what v2 really wrote rather than hand-made files.
 *
 * @module
 */
import { freePort } from "./harness.ts";
import { ROOT } from "./process.ts";

/** v2's server script, inside the package `npm ci` installs. */
export const V2_SCRIPT = `${ROOT}tests/support/v2/node_modules/llm-cache-proxy/proxy-a.mjs`;

/** A running v2, stopped with `await using`. */
export interface V2Process extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The HOME it runs with: its cache is `${home}/.llm-cache-a`. */
  readonly home: string;
}

/**
 * Starts v2 with `HOME=home` in front of `upstream` (an `http://127.0.0.1:PORT` mock).
 *
 * @param home the HOME it keeps `.llm-cache-a/` in
 * @param upstream the mock's URL
 * @returns the running v2, once it listens
 */
export async function startV2(home: string, upstream: string): Promise<V2Process> {
  const port = freePort();
  const child = new Deno.Command("node", {
    args: [V2_SCRIPT],
    env: {
      HOME: home,
      CACHE_PORT: String(port),
      CACHE_UPSTREAM_HOST: "127.0.0.1",
      CACHE_UPSTREAM_PORT: new URL(upstream).port,
      CACHE_UPSTREAM_PROTO: "http",
      ANTHROPIC_API_KEY_REAL: "sk-ant-api03-v2-upgrade-test",
      CACHE_LOG_FILE: "none",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 15_000;
  while (!text.includes("cache proxy: http://") && Date.now() < deadline) {
    const { value, done } = await output.read();
    if (done) break;
    text += value;
  }
  const stderr = child.stderr.pipeThrough(new TextDecoderStream());
  if (!text.includes("cache proxy: http://")) {
    child.kill("SIGKILL");
    const errors = await Array.fromAsync(stderr);
    throw new Error(`v2 did not start: ${text}${errors.join("")}`);
  }
  const drained = Promise.all([
    (async () => {
      while (!(await output.read()).done);
    })(),
    stderr.pipeTo(new WritableStream()),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    home,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
    },
  };
}
