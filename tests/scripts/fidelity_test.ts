import assert from "node:assert/strict";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { baseEnv, decodedOutput, ROOT } from "../support/process.ts";

/** Runs `deno task fidelity`'s script with no CACHE_* or ANTHROPIC_* variable but `env`'s. */
async function fidelity(env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "scripts/fidelity.ts",
    ],
    cwd: ROOT,
    clearEnv: true,
    env: { ...baseEnv(), NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  return decodedOutput(output);
}

Deno.test("fidelity without ANTHROPIC_API_KEY says what it needs in one line and exits 0", async () => {
  const run = await fidelity({});
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^fidelity: skipped, nothing sent: set ANTHROPIC_API_KEY [^\n]*\n$/);
});

Deno.test("fidelity's checks pass through the proxy against the mock API", async () => {
  await using mock = await startMockAnthropic();
  const run = await fidelity({ ANTHROPIC_API_KEY: "sk-ant-test", FIDELITY_UPSTREAM: mock.url });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (const name of ["json", "stream", "tool_use", "stream tool_use"]) {
    assert.match(
      run.stdout,
      new RegExp(`^ok   ${name}: cold MISS, warm HIT, \\d+ bytes byte-identical$`, "m"),
    );
  }
  assert.match(run.stdout, /^ok {3}count_tokens: \d+ input tokens$/m);
  assert.match(run.stdout, /^ok {3}burst of 5: 1 upstream call \(/m);
  assert.match(run.stdout, /^6 passed, 0 failed$/m);
  assert.equal(mock.count("/v1/messages"), 5, "4 cold calls and one for the burst");
  assert.equal(mock.count("/v1/messages/count_tokens"), 1);
  assert.equal(mock.calls[0]!.headers["x-api-key"], "sk-ant-test", "the key is passed through");
});
