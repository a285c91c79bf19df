import assert from "node:assert/strict";
import { type MockAnthropic, startMockAnthropic } from "./mock_anthropic.ts";

const FIXTURES = new URL("../fixtures/anthropic/", import.meta.url);
const MOCK_ID = /msg_mock_\d+_[0-9a-f]+/;

function fixture(name: string): Promise<string> {
  return Deno.readTextFile(new URL(name, FIXTURES));
}

/** POSTs a minimal request to `/v1/messages` whose user message is `text`. */
function ask(mock: MockAnthropic, text: string, stream = false, signal?: AbortSignal) {
  const messages = [{ role: "user", content: text }];
  const body = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, stream, messages });
  return fetch(`${mock.url}/v1/messages`, { method: "POST", body, ...(signal ? { signal } : {}) });
}

Deno.test("text stream is the fixture byte for byte, with a fresh id", async () => {
  await using mock = await startMockAnthropic();
  const response = await ask(mock, "Hi", true);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.match(response.headers.get("request-id") ?? "", /^req_mock_/);
  const expected = await fixture("stream_text.sse");
  const got = await response.text();
  assert.match(got, MOCK_ID);
  assert.equal(got.replace(MOCK_ID, "msg_014p7gG3wDgGV9EUtLvnow3U"), expected);
});

Deno.test("every call gets its own message id and request-id", async () => {
  await using mock = await startMockAnthropic();
  const [a, b] = [await ask(mock, "Hi"), await ask(mock, "Hi")];
  const [ja, jb] = [await a.json(), await b.json()];
  assert.match(ja.id, MOCK_ID);
  assert.notEqual(ja.id, jb.id);
  assert.notEqual(a.headers.get("request-id"), b.headers.get("request-id"));
});

Deno.test("429 carries retry-after and the fixture body", async () => {
  await using mock = await startMockAnthropic();
  const response = await ask(mock, "[mock:429]");
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "7");
  assert.equal(await response.text(), await fixture("error_429.json"));
});

Deno.test("count() counts calls, optionally by pathname", async () => {
  await using mock = await startMockAnthropic();
  await (await ask(mock, "Hi")).body?.cancel();
  await (await fetch(`${mock.url}/v1/models?limit=1`)).body?.cancel();
  await (await fetch(`${mock.url}/v1/models`)).body?.cancel();
  assert.equal(mock.count(), 3);
  assert.equal(mock.count("/v1/models"), 2);
  assert.equal(mock.calls[1]?.path, "/v1/models?limit=1");
  mock.reset();
  assert.equal(mock.count(), 0);
});

Deno.test("slow sends the first event well before the last", async () => {
  await using mock = await startMockAnthropic();
  const start = performance.now();
  const reader = (await ask(mock, "[mock:slow:50]", true)).body!.getReader();
  let first = 0;
  let text = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    first ||= performance.now();
    text += new TextDecoder().decode(r.value);
  }
  const end = performance.now();
  assert.ok(first - start < 200, `first event after ${first - start} ms`);
  assert.ok(end - first >= 400, `last event ${end - first} ms after the first`);
  assert.ok(text.endsWith('data: {"type":"message_stop"}\n\n'));
});

Deno.test("hang: a client that leaves and close() leave nothing running", async () => {
  await using mock = await startMockAnthropic();
  const client = new AbortController();
  const reader = (await ask(mock, "[mock:hang]", true, client.signal)).body!.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /^event: message_start\n/);
  client.abort();
  await assert.rejects(reader.read());
  await mock.close();
});

Deno.test("hang: close() ends a stream still being read", async () => {
  await using mock = await startMockAnthropic();
  const reader = (await ask(mock, "[mock:hang]", true)).body!.getReader();
  assert.equal((await reader.read()).done, false);
  await mock.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("forever streams deltas until the client leaves, and records that it left", async () => {
  await using mock = await startMockAnthropic();
  const client = new AbortController();
  const reader = (await ask(mock, "[mock:forever:1]", true, client.signal)).body!.getReader();
  let text = "";
  while ((text.match(/event: content_block_delta/g) ?? []).length < 10) {
    text += new TextDecoder().decode((await reader.read()).value);
  }
  assert.match(text, /^event: message_start\n/);
  assert.equal(mock.calls[0]?.goneAt, undefined);
  client.abort();
  await mock.calls[0]!.gone;
  assert.ok(mock.calls[0]!.goneAt! > mock.calls[0]!.at);
});

Deno.test("stall sends its first events, then nothing; reset cuts the connection", async () => {
  await using mock = await startMockAnthropic();
  const stalled = (await ask(mock, "[mock:stall:2]", true)).body!.getReader();
  let first = "";
  while (!first.includes("event: content_block_start\n")) {
    first += new TextDecoder().decode((await stalled.read()).value);
  }
  assert.match(first, /^event: message_start\n/);
  const more = await Promise.race([
    stalled.read(),
    new Promise((resolve) => setTimeout(() => resolve("nothing"), 200)),
  ]);
  assert.equal(more, "nothing");
  await stalled.cancel();
  await assert.rejects((await ask(mock, "[mock:reset:2]", true)).text());
  await assert.rejects((await ask(mock, "[mock:reset]", false)).text());
});

Deno.test("nohead never answers; the client leaving is recorded", async () => {
  await using mock = await startMockAnthropic();
  const client = new AbortController();
  const answer = ask(mock, "[mock:nohead]", true, client.signal);
  while (mock.count() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  client.abort();
  await assert.rejects(answer);
  await mock.calls[0]!.gone;
});
