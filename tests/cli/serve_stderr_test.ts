/**
 * Everything a real `serve` process writes to stderr goes through the logger: an upstream that
 * cuts an answer, a body closed by the upstream timeout and a client that leaves produce log
 * lines, never a raw error printed by the runtime.
 */
import assert from "node:assert/strict";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { messageBody } from "../support/proxy.ts";
import { spawnServe } from "../support/process.ts";
import { tempHome } from "../support/harness.ts";

const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|INFO|DEBUG) /;

Deno.test("serve: upstream resets, timeouts and clients that leave print only log lines", async () => {
  await using mock = await startMockAnthropic();
  await using home = await tempHome();
  await using proxy = await spawnServe({
    CACHE_HOME: home.path,
    CACHE_PORT: "0",
    CACHE_UPSTREAM: mock.url,
    CACHE_LOG_FILE: "none",
    CACHE_LOG_LEVEL: "debug",
    CACHE_UPSTREAM_TIMEOUT_SEC: "0.3",
  });
  const post = (prompt: string, stream: boolean, signal?: AbortSignal) =>
    fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: messageBody(`${prompt} ${crypto.randomUUID()}`, { stream }),
      ...(signal ? { signal } : {}),
    });
  for (const stream of [true, false]) {
    await assert.rejects((await post("[mock:reset:2]", stream)).text(), "upstream reset");
  }
  await assert.rejects((await post("[mock:stall]", false)).text(), "JSON body timed out");
  const client = new AbortController();
  const leaving = await post("[mock:forever:5]", true, client.signal);
  await leaving.body!.getReader().read();
  client.abort();
  await mock.calls.at(-1)!.gone;
  const out = await proxy.stop();
  const stray = out.stderr.split("\n").filter((line) => line !== "" && !LOG_LINE.test(line));
  assert.deepEqual(stray, [], `stray stderr lines:\n${out.stderr}`);
  assert.match(out.stderr, / ERROR Upstream broke off answer \w+: error reading a body/);
  assert.match(out.stdout, / DEBUG A response broke off: /);
});
