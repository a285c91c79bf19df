import assert from "node:assert/strict";
import { entryFor, isCompleteBody, isFinishedStream } from "../../src/cache/recorder.ts";
import { NO_USAGE } from "../../src/stats/usage.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`../fixtures/anthropic/${name}`, import.meta.url));
const text = async (name: string) => new TextDecoder().decode(await fixture(name));
const SSE = "text/event-stream; charset=utf-8";

Deno.test("isFinishedStream() accepts only streams that end with message_stop and carry no error", async () => {
  assert.ok(isFinishedStream(await text("stream_text.sse")));
  assert.ok(isFinishedStream(await text("stream_tool_use.sse")));
  assert.ok(isFinishedStream((await text("stream_text.sse")).replaceAll("\n", "\r\n")));
  assert.ok(!isFinishedStream(await text("stream_error_midway.sse")));
  assert.ok(!isFinishedStream(await text("stream_cut_before_stop.sse")));
  assert.ok(!isFinishedStream(""));
  const errorAfterStop = `${await text("stream_text.sse")}event: error\ndata: {}\n\n`;
  assert.ok(!isFinishedStream(errorAfterStop));
});

Deno.test("isCompleteBody() wants parsable JSON or a finished stream", async () => {
  assert.ok(isCompleteBody("application/json", await fixture("message_text.json")));
  const json = await fixture("message_tool_use.json");
  assert.ok(!isCompleteBody("application/json", json.subarray(0, json.length / 2)));
  assert.ok(isCompleteBody(SSE, await fixture("stream_tool_use.sse")));
  assert.ok(!isCompleteBody("text/plain", await fixture("message_text.json")));
  assert.ok(!isCompleteBody("application/json", new Uint8Array([0xff, 0x7b, 0x7d])));
});

Deno.test("entryFor() stores only a complete 200, with its exact bytes", async () => {
  const usage = { ...NO_USAGE, "input_tokens": 25, "output_tokens": 15 };
  const request = {
    key: "k",
    path: "/v1/messages",
    model: "m",
    now: 1000,
    ttlSec: 60,
    usage,
    snippet: "Hello",
    namespace: "",
    body: undefined,
  };
  const sse = await fixture("stream_text.sse");
  const entry = entryFor(request, { status: 200, contentType: SSE, body: sse });
  assert.deepEqual(entry?.body, sse);
  assert.equal(entry?.contentType, SSE);
  assert.equal(entry?.expiresAt, 61_000);
  assert.deepEqual([entry?.usage, entry?.snippet], [usage, "Hello"]);
  assert.equal(entryFor(request, { status: 529, contentType: SSE, body: sse }), undefined);
  const midway = await fixture("stream_error_midway.sse");
  assert.equal(entryFor(request, { status: 200, contentType: SSE, body: midway }), undefined);
});
