import assert from "node:assert/strict";
import { selfInvocation, stablePath } from "../../src/cli/self.ts";

Deno.test("a Homebrew keg's binary is named by its opt link, which survives upgrades", () => {
  const keg = "/opt/homebrew/Cellar/llm-cache-proxy/3.1.0/bin/llm-cache-proxy";
  const opt = "/opt/homebrew/opt/llm-cache-proxy/bin/llm-cache-proxy";
  assert.equal(stablePath(keg, (p) => p === opt), opt);
  assert.equal(stablePath(keg, () => false), keg, "no opt link: keep the real path");
  assert.equal(
    stablePath("/usr/local/bin/llm-cache-proxy", () => true),
    "/usr/local/bin/llm-cache-proxy",
  );
});

Deno.test("from source, the program runs itself through deno with the binary's flags", () => {
  const { command, args } = selfInvocation(["serve"]);
  assert.equal(command, Deno.execPath());
  assert.equal(args[0], "run");
  assert.ok(args.includes("--allow-run") && args.includes("--config"));
  assert.equal(args.at(-1), "serve");
});
