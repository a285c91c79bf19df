/** `key`, `price` and `usage` as subprocesses: the proxy's own routines from the shell. */
import assert from "node:assert/strict";
import { cacheKey } from "../../src/cache/key.ts";
import { runCli } from "../support/cli.ts";
import { messageBody } from "../support/proxy.ts";

const FIXTURES = new URL("../fixtures/anthropic/", import.meta.url);

async function withHome<T>(body: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const home = await Deno.makeTempDir({ prefix: "routines_" });
  try {
    return await body({ HOME: home, CACHE_HOME: home });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("key prints the proxy's key for a body, from an argument or stdin", async () => {
  await withHome(async (env) => {
    const body = messageBody("what is the key?");
    const expected = await cacheKey({
      method: "POST",
      path: "/v1/messages",
      anthropicVersion: "2023-06-01",
      anthropicBeta: null,
      namespace: "",
      body: new TextEncoder().encode(body),
    }, "https://api.anthropic.com");
    const fromArg = await runCli(["key", body], { env });
    assert.deepEqual([fromArg.code, fromArg.stdout], [0, `${expected}\n`]);
    const fromStdin = await runCli(["key"], { env, stdin: body });
    assert.equal(fromStdin.stdout, `${expected}\n`);
    const beta = await runCli(["key", "--beta", "tools-2024-04-04", "--json", body], { env });
    const parsed = JSON.parse(beta.stdout);
    assert.notEqual(parsed.key, expected, "the beta header is part of the key");
    assert.equal(parsed.anthropicBeta, "tools-2024-04-04");
    const upstream = await runCli(["key", body], {
      env: { ...env, CACHE_UPSTREAM: "http://127.0.0.1:8" },
    });
    assert.notEqual(upstream.stdout, `${expected}\n`, "another upstream is another cache");
    for (const empty of [[], ["  \n"]]) {
      const none = await runCli(["key", ...empty], { env, stdin: "" });
      assert.equal(none.code, 2, "an empty body is a mistake, not a request to key");
      assert.match(none.stderr, /BODY is empty: give it as an argument, or pipe it in/);
    }
  });
});

Deno.test("price prints the ledger's price, with prices.json overrides", async () => {
  await withHome(async (env) => {
    const opus = await runCli(["price", "claude-opus-4-5", "--json"], { env });
    assert.equal(opus.code, 0, opus.stderr);
    assert.deepEqual(JSON.parse(opus.stdout).perToken, [5e-6, 25e-6]);
    const text = await runCli(["price", "claude-sonnet-4-5"], { env });
    assert.equal(
      text.stdout,
      "claude-sonnet-4-5: $3.00 input, $15.00 output per million tokens " +
        "(cache write $3.75 for 5m, $6.00 for 1h; cache read $0.30)\n",
    );
    await Deno.writeTextFile(
      `${env.CACHE_HOME}/prices.json`,
      JSON.stringify({ haiku: [0.8e-6, 4e-6] }),
    );
    const haiku = JSON.parse(
      (await runCli(["price", "claude-haiku-4-5", "--json"], { env })).stdout,
    );
    assert.deepEqual(haiku.perToken, [0.8e-6, 4e-6]);
    const unknown = await runCli(["price", "gpt-9"], { env });
    assert.equal(unknown.code, 0);
    assert.match(unknown.stderr, /No price known for model "gpt-9"/);
    const none = await runCli(["price"], { env });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give a model id/);
  });
});

Deno.test("usage reads a JSON message or a raw SSE stream", async () => {
  await withHome(async (env) => {
    const json = await Deno.readTextFile(new URL("message_text.json", FIXTURES));
    const fromJson = JSON.parse((await runCli(["usage", "-"], { env, stdin: json })).stdout);
    assert.equal(fromJson.usage.input_tokens, JSON.parse(json).usage.input_tokens);
    assert.equal(fromJson.usage.output_tokens, JSON.parse(json).usage.output_tokens);
    assert.match(fromJson.snippet, /\S/);
    const sse = await Deno.readTextFile(new URL("stream_tool_use.sse", FIXTURES));
    const fromSse = JSON.parse((await runCli(["usage"], { env, stdin: sse })).stdout);
    assert.ok(fromSse.usage.output_tokens > 0);
  });
});
