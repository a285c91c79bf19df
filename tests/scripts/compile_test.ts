import assert from "node:assert/strict";
import { binaryPath, RUN_FLAGS, TARGETS } from "../../scripts/compile.ts";
import { startTaskFlags } from "../support/process.ts";

Deno.test("the start task runs with exactly the flags the binary is compiled with", async () => {
  assert.deepEqual(await startTaskFlags(), [...RUN_FLAGS]);
});

Deno.test("compile builds Linux, macOS (x86_64, aarch64) and Windows binaries", () => {
  assert.deepEqual(TARGETS.map(binaryPath), [
    "dist/llm-cache-proxy-x86_64-unknown-linux-gnu",
    "dist/llm-cache-proxy-aarch64-unknown-linux-gnu",
    "dist/llm-cache-proxy-x86_64-apple-darwin",
    "dist/llm-cache-proxy-aarch64-apple-darwin",
    "dist/llm-cache-proxy-x86_64-pc-windows-msvc.exe",
  ]);
});
