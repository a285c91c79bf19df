/**
 * The official Anthropic TypeScript SDK driving the real proxy (in front of the
 * mock upstream): what a user of the SDK sees on a miss and on the hit that
 * follows, for plain and streamed messages, errors and token counting.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { type ProxyUnderTest, startProxy } from "../support/proxy.ts";

// Not the fixtures' `claude-sonnet-4-5-20250929`: the SDK prints a deprecation warning to the
// console for that one on every call. The mock answers the same whatever the model.
const MODEL = "claude-sonnet-4-6";
const FIXTURE_TEXT =
  "Hello! The capital of France is Paris. Is there anything else you would like to know?";
const TOOL_INPUT = { location: "San Francisco, CA", unit: "celsius" };
const MOCK_ID = /^msg_mock_\d+_[0-9a-f]+$/;

const WEATHER_TOOL: Anthropic.Tool = {
  name: "get_weather",
  description: "Get the current weather in a given location",
  "input_schema": {
    type: "object",
    properties: {
      location: { type: "string", description: "The city and state, e.g. San Francisco, CA" },
      unit: { type: "string", enum: ["celsius", "fahrenheit"] },
    },
    required: ["location"],
  },
};

/** A client that talks only to the proxy and never retries (a retry would hide what the proxy did). */
function sdk(proxy: ProxyUnderTest): Anthropic {
  return new Anthropic({ baseURL: proxy.url, apiKey: "sk-ant-test", maxRetries: 0 });
}

/** Request parameters for one user message; `tools` adds the weather tool. */
function ask(text: string, tools = false): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: MODEL,
    max_tokens: 256,
    messages: [{ role: "user", content: text }],
    ...(tools ? { tools: [WEATHER_TOOL] } : {}),
  };
}

const upstreamMessages = (proxy: ProxyUnderTest) => proxy.mock.count("/v1/messages");

/** Runs `call`, which must reject, and returns what it rejected with. */
async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (e) {
    return e;
  }
  assert.fail("expected the SDK to throw");
}

Deno.test("SDK messages.create (text): miss then hit with the same message", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);

  const miss = await client.messages.create(ask("What is the capital of France?")).withResponse();
  assert.equal(miss.response.headers.get("x-cache"), "MISS");
  assert.match(miss.data.id, MOCK_ID);
  assert.equal(miss.data.content[0]?.type, "text");
  assert.equal((miss.data.content[0] as Anthropic.TextBlock).text, FIXTURE_TEXT);

  const hit = await client.messages.create(ask("What is the capital of France?")).withResponse();
  assert.equal(hit.response.headers.get("x-cache"), "HIT");
  assert.equal(hit.data.id, miss.data.id);
  assert.deepEqual(hit.data.content, miss.data.content);
  assert.deepEqual(hit.data, miss.data);
  assert.equal(upstreamMessages(proxy), 1);
});

Deno.test("SDK messages.create (tools): tool_use answer is a miss then a hit", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);

  const miss = await client.messages.create(ask("Weather in SF?", true)).withResponse();
  const hit = await client.messages.create(ask("Weather in SF?", true)).withResponse();
  assert.deepEqual(
    [miss.response.headers.get("x-cache"), hit.response.headers.get("x-cache")],
    ["MISS", "HIT"],
  );
  for (const { data } of [miss, hit]) {
    assert.equal(data.stop_reason, "tool_use");
    const block = data.content[1];
    assert.equal(block?.type, "tool_use");
    assert.equal((block as Anthropic.ToolUseBlock).name, "get_weather");
    assert.deepEqual((block as Anthropic.ToolUseBlock).input, TOOL_INPUT);
  }
  assert.match(miss.data.id, MOCK_ID);
  assert.equal(hit.data.id, miss.data.id);
  assert.deepEqual(hit.data, miss.data);
  assert.equal(upstreamMessages(proxy), 1);
});

/** Streams `params` with `messages.stream`, collecting the `text` deltas and the cache label. */
async function streamed(client: Anthropic, params: Anthropic.MessageStreamParams) {
  const stream = client.messages.stream(params);
  const deltas: string[] = [];
  stream.on("text", (delta) => deltas.push(delta));
  const message = await stream.finalMessage();
  return { message, text: deltas.join(""), cache: stream.response?.headers.get("x-cache") };
}

Deno.test("SDK messages.stream (text): finalMessage and text deltas on miss and hit", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);

  const miss = await streamed(client, ask("Stream me the capital of France"));
  const hit = await streamed(client, ask("Stream me the capital of France"));
  assert.deepEqual([miss.cache, hit.cache], ["MISS", "HIT"]);
  assert.match(miss.message.id, MOCK_ID);
  assert.equal(hit.message.id, miss.message.id);
  assert.deepEqual(hit.message, miss.message);
  assert.equal(miss.text, FIXTURE_TEXT);
  assert.equal(hit.text, FIXTURE_TEXT);
  assert.equal(miss.message.stop_reason, "end_turn");
  assert.deepEqual(miss.message.content, [{ type: "text", text: FIXTURE_TEXT }]);
  assert.equal(upstreamMessages(proxy), 1);

  // `messages.stream` only adds the header `x-stainless-helper-method: stream`, which is not part
  // of the key: a plain `create({ stream: true })` of the same parameters is a hit too.
  const created = await client.messages
    .create({ ...ask("Stream me the capital of France"), stream: true })
    .withResponse();
  const events = [];
  for await (const event of created.data) events.push(event);
  assert.equal(created.response.headers.get("x-cache"), "HIT");
  assert.equal(events[0]?.type === "message_start" && events[0].message.id, miss.message.id);
  assert.equal(upstreamMessages(proxy), 1);

  // `stream: true` is in the body, so the non-streaming request is another entry.
  const plain = await client.messages.create(ask("Stream me the capital of France")).withResponse();
  assert.equal(plain.response.headers.get("x-cache"), "MISS");
  assert.notEqual(plain.data.id, miss.message.id);
  assert.equal(upstreamMessages(proxy), 2);
});

Deno.test("SDK messages.stream (tool_use): input_json_delta assembles on miss and hit", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);

  const miss = await streamed(client, ask("Stream the weather in SF", true));
  const hit = await streamed(client, ask("Stream the weather in SF", true));
  assert.deepEqual([miss.cache, hit.cache], ["MISS", "HIT"]);
  assert.match(miss.message.id, MOCK_ID);
  assert.equal(hit.message.id, miss.message.id);
  assert.deepEqual(hit.message, miss.message);
  for (const { message, text } of [miss, hit]) {
    assert.equal(text, "I'll check the weather.");
    assert.equal(message.stop_reason, "tool_use");
    const block = message.content[1];
    assert.equal(block?.type, "tool_use");
    assert.deepEqual((block as Anthropic.ToolUseBlock).input, TOOL_INPUT);
  }
  assert.equal(upstreamMessages(proxy), 1);
});

Deno.test("SDK messages.create({ stream: true }): same event sequence on miss and hit", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);

  const run = async (params: Anthropic.MessageCreateParamsStreaming) => {
    const { data: stream, response } = await client.messages.create(params).withResponse();
    const types: string[] = [];
    const ids: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "message_start") ids.push(event.message.id);
    }
    return { types, ids, cache: response.headers.get("x-cache") };
  };

  for (const tools of [false, true]) {
    const before = upstreamMessages(proxy);
    const params = { ...ask(`Iterate the events (tools: ${tools})`, tools), stream: true as const };
    const miss = await run(params);
    const hit = await run(params);
    assert.deepEqual([miss.cache, hit.cache], ["MISS", "HIT"]);
    assert.deepEqual(hit.types, miss.types);
    assert.equal(miss.types[0], "message_start");
    assert.equal(miss.types.at(-1), "message_stop");
    assert.ok(!miss.types.includes("ping"), "the SDK drops ping events");
    assert.equal(miss.ids.length, 1);
    assert.deepEqual(hit.ids, miss.ids);
    assert.equal(upstreamMessages(proxy), before + 1);
  }
});

Deno.test("SDK errors: 429, 400 and 529 reach the SDK typed, and none is stored", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);

  for (let round = 1; round <= 2; round++) {
    const before = upstreamMessages(proxy);

    const limited = await rejection(() => client.messages.create(ask("[mock:429]")));
    assert.ok(limited instanceof Anthropic.RateLimitError, String(limited));
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "7");
    assert.equal(limited.headers.get("anthropic-ratelimit-requests-remaining"), "0");
    assert.equal(limited.type, "rate_limit_error");

    const bad = await rejection(() => client.messages.create(ask("[mock:400]")));
    assert.ok(bad instanceof Anthropic.BadRequestError, String(bad));
    assert.equal(bad.status, 400);
    assert.equal(bad.type, "invalid_request_error");

    const overloaded = await rejection(() => client.messages.create(ask("[mock:529]")));
    assert.ok(overloaded instanceof Anthropic.APIError, String(overloaded));
    assert.equal(overloaded.status, 529);
    assert.equal(overloaded.type, "overloaded_error");

    // Every round reaches upstream again: no error answer was kept.
    assert.equal(upstreamMessages(proxy), before + 3, `round ${round}`);
  }
  assert.equal(await proxy.store.count(), 0);
});

Deno.test("SDK stream broken off by `event: error` throws and is not cached", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);
  const params = ask("[mock:error_midway] tell me about France");

  for (let round = 1; round <= 2; round++) {
    const stream = client.messages.stream(params);
    const deltas: string[] = [];
    stream.on("text", (delta) => deltas.push(delta));
    const error = await rejection(() => stream.finalMessage());
    assert.ok(error instanceof Anthropic.APIError, String(error));
    assert.equal(error.type, "overloaded_error");
    assert.equal(stream.response?.headers.get("x-cache"), "MISS", `round ${round}`);
    assert.deepEqual(deltas, ["Hello! The capital "]);
    assert.equal(upstreamMessages(proxy), round, `round ${round} went upstream`);
  }
  assert.equal(await proxy.store.count(), 0);

  // The same through create({ stream: true }) and for await.
  const iterate = async () => {
    const types: string[] = [];
    const stream = await client.messages.create({ ...params, stream: true });
    for await (const event of stream) types.push(event.type);
    return types;
  };
  const error = await rejection(iterate);
  assert.ok(error instanceof Anthropic.APIError, String(error));
  assert.equal(error.type, "overloaded_error");
  assert.equal(upstreamMessages(proxy), 3);
  assert.equal(await proxy.store.count(), 0);
});

Deno.test("SDK messages.countTokens is cached apart from messages", async () => {
  await using proxy = await startProxy();
  const client = sdk(proxy);
  const params: Anthropic.MessageCountTokensParams = {
    model: MODEL,
    messages: [{ role: "user", content: "How many tokens is this?" }],
  };

  const miss = await client.messages.countTokens(params).withResponse();
  const hit = await client.messages.countTokens(params).withResponse();
  assert.deepEqual(miss.data, { input_tokens: 2095 });
  assert.deepEqual(hit.data, miss.data);
  assert.deepEqual(
    [miss.response.headers.get("x-cache"), hit.response.headers.get("x-cache")],
    ["MISS", "HIT"],
  );
  assert.equal(proxy.mock.count("/v1/messages/count_tokens"), 1);
  assert.equal(upstreamMessages(proxy), 0);

  // The very same body on /v1/messages is another request: a miss that reaches upstream.
  const message = await client.messages.create({ ...params, max_tokens: 256 }).withResponse();
  assert.equal(message.response.headers.get("x-cache"), "MISS");
  assert.equal(message.data.type, "message");
  assert.equal(upstreamMessages(proxy), 1);

  // And the messages body posted to count_tokens does not get the stored message back.
  const same = await client.post<Anthropic.MessageTokensCount>(
    "/v1/messages/count_tokens",
    { body: { ...params, max_tokens: 256 } },
  ).withResponse();
  assert.equal(same.response.headers.get("x-cache"), "MISS");
  assert.deepEqual(same.data, { input_tokens: 2095 });
  assert.equal(proxy.mock.count("/v1/messages/count_tokens"), 2);

  const paths = (await proxy.store.list()).map((entry) => entry.path).sort();
  assert.deepEqual(paths, [
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/messages/count_tokens",
  ]);
});

Deno.test("SDK credentials: x-cache-auth via defaultHeaders, the real key replaces the SDK's", async () => {
  await using proxy = await startProxy({
    env: { CACHE_AUTH_TOKEN: "proxy-token", ANTHROPIC_API_KEY_REAL: "sk-ant-real" },
  });

  const refused = await rejection(() => sdk(proxy).messages.create(ask("Hello")));
  assert.ok(refused instanceof Anthropic.AuthenticationError, String(refused));
  assert.equal(refused.status, 401);
  assert.equal(refused.type, "authentication_error");
  assert.equal(upstreamMessages(proxy), 0);

  const client = new Anthropic({
    baseURL: proxy.url,
    apiKey: "sk-ant-test",
    maxRetries: 0,
    defaultHeaders: { "x-cache-auth": "proxy-token" },
  });
  const miss = await client.messages.create(ask("Hello")).withResponse();
  const hit = await client.messages.create(ask("Hello")).withResponse();
  assert.deepEqual(
    [miss.response.headers.get("x-cache"), hit.response.headers.get("x-cache")],
    ["MISS", "HIT"],
  );
  assert.equal(upstreamMessages(proxy), 1);
  // This SDK sends its key as `Authorization: Bearer …`; upstream sees only the real key.
  const sent = proxy.mock.calls[0]?.headers ?? {};
  assert.equal(sent["x-api-key"], "sk-ant-real");
  assert.equal(sent["authorization"], undefined);
  assert.equal(sent["x-cache-auth"], undefined);
});
