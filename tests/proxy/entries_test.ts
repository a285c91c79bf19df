import assert from "node:assert/strict";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";

async function miss(proxy: ProxyUnderTest, body: string): Promise<string> {
  const res = await postMessage(proxy, body);
  await res.arrayBuffer();
  assert.equal(res.headers.get("x-cache"), "MISS");
  return res.headers.get("x-cache-key")!;
}

Deno.test("GET /cache/entries/:key shows the stored request; /why says why it missed", async () => {
  await using proxy = await startProxy();
  await miss(proxy, messageBody("What is the capital of France?", { max_tokens: 100 }));
  const key = await miss(
    proxy,
    messageBody("What is the capital of France?", { max_tokens: 200 }),
  );

  const entry = await (await proxy.fetch(`/cache/entries/${key}`)).json();
  assert.equal(JSON.parse(entry.requestHead).max_tokens, 200);
  assert.equal(entry.requestBytes, new TextEncoder().encode(entry.requestHead).byteLength);
  assert.equal(entry.request, undefined, "the raw bytes are not sent as a JSON object");

  const res = await proxy.fetch(`/cache/entries/${key}/why`);
  assert.equal(res.status, 200);
  const why = await res.json();
  assert.equal(why.requestKept, true);
  assert.match(why.key, new RegExp(`^${key}`));
  assert.equal(why.reason, "max_tokens differs");
  assert.deepEqual(why.diff, [
    { path: "max_tokens", kind: "changed", before: "100", after: "200" },
  ]);
  assert.equal(why.nearest.snippet.length > 0, true);

  const alone = await miss(proxy, messageBody("hi", { model: "claude-haiku-4-5" }));
  const none = await (await proxy.fetch(`/cache/entries/${alone}/why`)).json();
  assert.deepEqual([none.reason, none.nearest, none.diff], [null, null, []]);

  const wrong = await proxy.fetch(`/cache/entries/${key}/why`, { method: "DELETE" });
  assert.equal(wrong.status, 405, "a why cannot be deleted");
  assert.equal((await proxy.fetch(`/cache/entries/${key}`)).status, 200, "and the entry stays");
  assert.equal((await proxy.fetch("/cache/entries/00000000/why")).status, 404);
});
