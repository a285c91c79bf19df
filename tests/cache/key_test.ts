import assert from "node:assert/strict";
import { cacheKey, KeyMemo, type KeyRequest } from "../../src/cache/key.ts";

const UPSTREAM = "https://api.anthropic.com";
const encode = (text: string) => new TextEncoder().encode(text);

function request(overrides: Partial<KeyRequest> & { json?: unknown } = {}): KeyRequest {
  const { json, ...rest } = overrides;
  return {
    method: "POST",
    path: "/v1/messages",
    anthropicVersion: "2023-06-01",
    anthropicBeta: null,
    body: encode(
      JSON.stringify(json ?? { model: "m", messages: [{ role: "user", content: "hi" }] }),
    ),
    ...rest,
  };
}

const key = (overrides: Parameters<typeof request>[0] = {}) =>
  cacheKey(request(overrides), UPSTREAM);

Deno.test("cacheKey() is 64 hex characters and stable", async () => {
  const k = await key();
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(await key(), k);
});

Deno.test("cacheKey() ignores JSON key order and insignificant whitespace", async () => {
  const a = await key({ body: encode('{"model":"m","max_tokens":5}') });
  const b = await key({ body: encode('{\n  "max_tokens": 5,\n  "model": "m"\n}') });
  assert.equal(a, b);
});

Deno.test("cacheKey() ignores the body's metadata object", async () => {
  const base = { model: "m", messages: [] };
  const a = await key({ json: { ...base, metadata: { user_id: "user_a_session_1" } } });
  const b = await key({ json: { ...base, metadata: { user_id: "user_b_session_2" } } });
  assert.equal(a, b);
  assert.equal(a, await key({ json: base }));
});

Deno.test("cacheKey() treats anthropic-beta as an order-insensitive set", async () => {
  const a = await key({ anthropicBeta: "b-1,a-2" });
  assert.equal(a, await key({ anthropicBeta: " a-2 , b-1" }));
  assert.notEqual(a, await key({ anthropicBeta: "a-2" }));
  assert.notEqual(a, await key({ anthropicBeta: null }));
});

Deno.test("cacheKey() changes with everything that changes the answer", async (t) => {
  const base = await key();
  const variants: [string, Parameters<typeof request>[0]][] = [
    ["path", { path: "/v1/messages/count_tokens" }],
    ["query", { path: "/v1/messages?beta=true" }],
    ["method", { method: "PUT" }],
    ["anthropic-version", { anthropicVersion: "2024-01-01" }],
    ["missing anthropic-version", { anthropicVersion: null }],
    ["model", { json: { model: "other", messages: [{ role: "user", content: "hi" }] } }],
    ["message text", { json: { model: "m", messages: [{ role: "user", content: "hi!" }] } }],
    ["a number's spelling", {
      json: { model: "m", messages: [{ role: "user", content: "hi" }], t: 1 },
    }],
  ];
  for (const [name, overrides] of variants) {
    await t.step(name, async () => assert.notEqual(await key(overrides), base));
  }
  await t.step(
    "upstream",
    async () => assert.notEqual(await cacheKey(request(), "http://other"), base),
  );
});

Deno.test("cacheKey() keys a body that is not JSON by its raw bytes", async () => {
  const a = await key({ body: encode("not json {") });
  assert.notEqual(a, await key({ body: encode("not json  {") }));
  assert.equal(a, await key({ body: encode("not json {") }));
  const invalidUtf8 = await key({ body: new Uint8Array([0xff, 0xfe]) });
  assert.notEqual(invalidUtf8, await key({ body: new Uint8Array([0xff, 0xfd]) }));
});

Deno.test("KeyMemo.key() agrees with cacheKey() on first sight and on repeats", async () => {
  const memo = new KeyMemo(UPSTREAM);
  const samples = [
    request(),
    request({ anthropicBeta: "x,y" }),
    request({ anthropicVersion: null }),
    request({ body: new Uint8Array([0xff]) }),
  ];
  for (let round = 0; round < 2; round++) {
    for (const sample of samples) {
      assert.equal(await memo.key(sample), await cacheKey(sample, UPSTREAM));
    }
  }
});

Deno.test("KeyMemo.key() never confuses an absent header with its literal spelling", async () => {
  const memo = new KeyMemo(UPSTREAM);
  const absent = await memo.key(request({ anthropicVersion: null }));
  const literal = await memo.key(request({ anthropicVersion: "null" }));
  assert.notEqual(absent, literal);
});
