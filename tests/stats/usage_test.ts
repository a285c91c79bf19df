import assert from "node:assert/strict";
import { readAnswer } from "../../src/stats/usage.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`../fixtures/anthropic/${name}`, import.meta.url));
const SSE = "text/event-stream; charset=utf-8";

Deno.test("readAnswer() reads usage and snippet from a JSON message", async () => {
  const facts = readAnswer("application/json", await fixture("message_text.json"));
  assert.equal(facts.usage.input_tokens, 25);
  assert.equal(facts.usage.output_tokens, 15);
  assert.equal(
    facts.snippet,
    "Hello! The capital of France is Paris. Is there anything else you would like to ",
  );
  assert.equal(facts.snippet.length, 80);
});

Deno.test("readAnswer() reads usage from message_start and message_delta of a stream", async () => {
  const facts = readAnswer(SSE, await fixture("stream_tool_use.sse"));
  assert.deepEqual(facts.usage, {
    input_tokens: 25,
    cache_creation_input_tokens: 0,
    ephemeral_5m_input_tokens: 0,
    ephemeral_1h_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: 15,
  });
  assert.equal(facts.snippet, "I'll check the weather.[tool_use get_weather]");
});

Deno.test("readAnswer() splits cache writes by lifetime, defaulting to 5 minutes", () => {
  const body = (usage: unknown) =>
    new TextEncoder().encode(JSON.stringify({ type: "message", content: [], usage }));
  const split = readAnswer(
    "application/json",
    body({
      input_tokens: 1,
      cache_creation_input_tokens: 30,
      cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 },
      cache_read_input_tokens: 7,
      output_tokens: 2,
    }),
  );
  assert.deepEqual(
    [
      split.usage.ephemeral_5m_input_tokens,
      split.usage.ephemeral_1h_input_tokens,
      split.usage.cache_read_input_tokens,
    ],
    [10, 20, 7],
  );
  const unsplit = readAnswer("application/json", body({ cache_creation_input_tokens: 30 }));
  assert.equal(unsplit.usage.ephemeral_5m_input_tokens, 30);
});

Deno.test("readAnswer() names errors in the snippet and reads nothing from garbage", async () => {
  assert.equal(
    readAnswer("application/json", await fixture("error_529.json")).snippet,
    "[overloaded_error] Overloaded",
  );
  const midway = readAnswer(SSE, await fixture("stream_error_midway.sse"));
  assert.equal(midway.usage.input_tokens, 25);
  assert.equal(midway.snippet, "Hello! The capital ");
  const garbage = readAnswer("application/json", new Uint8Array([1, 2, 3]));
  assert.deepEqual([garbage.usage.input_tokens, garbage.snippet], [0, ""]);
});
