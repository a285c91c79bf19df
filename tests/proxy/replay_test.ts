import assert from "node:assert/strict";
import { replay } from "../../src/proxy/replay.ts";
import type { CachedAnswer } from "../../src/store/store.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

const SSE = await Deno.readFile(
  new URL("../../../shared/fixtures/anthropic/stream_text.sse", import.meta.url),
);

function answer(body: Uint8Array, contentType = "text/event-stream"): CachedAnswer {
  return {
    key: "k".repeat(64),
    status: 200,
    contentType,
    model: "claude-sonnet-4-5",
    path: "/v1/messages",
    createdAt: 0,
    expiresAt: Infinity,
    usage: NO_USAGE,
    snippet: "",
    namespace: "",
    timing: [],
    body,
  };
}

/** What the client receives for each of `n` replays of one entry. */
async function replayed(entry: CachedAnswer, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const res = replay(entry);
    out.push({
      status: res.status,
      contentType: res.headers.get("content-type"),
      bytes: new Uint8Array(await res.arrayBuffer()),
    });
  }
  return out;
}

Deno.test("replay() answers the stored bytes and content type every time, ASCII or not", async (t) => {
  const bodies: [string, Uint8Array, string][] = [
    ["an SSE stream from the fixtures", SSE, "text/event-stream"],
    ["JSON in ASCII", new TextEncoder().encode('{"text":"plain"}'), "application/json"],
    ["UTF-8 past ASCII", new TextEncoder().encode('{"text":"é 😀 ü"}'), "application/json"],
    [
      "a byte-order mark, then ASCII",
      new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
      "application/json",
    ],
    [
      "bytes that are not UTF-8",
      new Uint8Array([0x7b, 0x80, 0xff, 0x7d]),
      "application/octet-stream",
    ],
    ["a NUL and controls", new Uint8Array([0, 1, 9, 10, 13, 0x7f]), "text/plain"],
    ["empty", new Uint8Array(), "application/json"],
  ];
  for (const [name, body, contentType] of bodies) {
    await t.step(name, async () => {
      const entry = answer(body, contentType);
      for (const got of await replayed(entry, 4)) {
        assert.equal(got.status, 200);
        assert.equal(got.contentType, contentType);
        assert.deepEqual(got.bytes, body);
      }
    });
  }
});

Deno.test("replay() keeps the status and an empty content type as stored", async () => {
  const entry = { ...answer(new TextEncoder().encode('{"type":"error"}'), ""), status: 529 };
  for (const got of await replayed(entry, 3)) {
    assert.equal(got.status, 529);
    assert.equal(got.contentType, "");
    assert.equal(new TextDecoder().decode(got.bytes), '{"type":"error"}');
  }
});
