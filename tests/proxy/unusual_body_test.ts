import assert from "node:assert/strict";
import { messageBody, postMessage, startProxy } from "../support/proxy.ts";

const bytes = async (res: Response) => new Uint8Array(await res.arrayBuffer());

/** Calls `body` while counting the `JSON.parse` calls handed a text of `length` characters. */
async function countingParses(length: number, body: () => Promise<void>): Promise<number> {
  const parse = JSON.parse;
  let count = 0;
  JSON.parse = (text: string, reviver?: Parameters<typeof parse>[1]) => {
    if (text.length === length) count++;
    return parse(text, reviver);
  };
  try {
    await body();
  } finally {
    JSON.parse = parse;
  }
  return count;
}

Deno.test("a body with a duplicate member name is never answered with another spelling's entry", async () => {
  await using proxy = await startProxy();
  const merged = messageBody("hello");
  const duplicate = merged.replace('"max_tokens":1024', '"max_tokens":1,"max_tokens":1024');
  assert.notEqual(duplicate, merged);
  const first = await postMessage(proxy, merged);
  await first.body?.cancel();
  const other = await postMessage(proxy, duplicate);
  const otherBytes = await bytes(other);
  assert.equal(other.headers.get("x-cache"), "MISS");
  const again = await postMessage(proxy, duplicate);
  assert.equal(again.headers.get("x-cache"), "HIT", "its exact bytes are its key");
  assert.deepEqual(await bytes(again), otherBytes);
  assert.equal(proxy.mock.count("/v1/messages"), 2);
});

Deno.test("a body nested a million deep is answered and replayed without being parsed", async () => {
  await using proxy = await startProxy();
  const depth = 1_000_000;
  const deep = (text: string) =>
    messageBody(text).replace(/}$/, `,"x":${"[".repeat(depth)}${"]".repeat(depth)}}`);
  const body = deep("hello");
  let first: Response | undefined;
  let firstBytes: Uint8Array | undefined;
  const parses = await countingParses(body.length, async () => {
    first = await postMessage(proxy, body);
    firstBytes = await bytes(first);
    const stored = await postMessage(proxy, deep("hellO")); // a miss near a stored deep request
    await stored.body?.cancel();
    assert.equal(stored.headers.get("x-cache-miss"), null, "no explanation is attempted");
  });
  // Only the mock upstream parses what it receives; the proxy never does.
  assert.equal(parses, proxy.mock.count("/v1/messages"));
  assert.equal(first?.status, 200);
  assert.equal(first?.headers.get("x-cache"), "MISS");
  const again = await postMessage(proxy, body);
  assert.equal(again.headers.get("x-cache"), "HIT");
  assert.deepEqual(await bytes(again), firstBytes);
});
