import assert from "node:assert/strict";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { FailOpenStore } from "../../src/store/fail_open.ts";
import { createLogger } from "../../src/log.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`../fixtures/anthropic/${name}`, import.meta.url));
const bytes = async (res: Response) => new Uint8Array(await res.arrayBuffer());
const withoutIds = (b: Uint8Array) =>
  new TextDecoder().decode(b).replace(/msg_[A-Za-z0-9_]+/g, "msg_X");

async function twice(proxy: ProxyUnderTest, body: string, headers: Record<string, string> = {}) {
  const first = await postMessage(proxy, body, headers);
  const firstBytes = await bytes(first);
  const second = await postMessage(proxy, body, headers);
  const secondBytes = await bytes(second);
  return { first, firstBytes, second, secondBytes };
}

Deno.test("a repeated JSON request is replayed byte for byte with x-cache: HIT and no upstream call", async () => {
  await using proxy = await startProxy();
  const { first, firstBytes, second, secondBytes } = await twice(proxy, messageBody("hello"));
  assert.equal(first.headers.get("x-cache"), "MISS");
  assert.equal(second.headers.get("x-cache"), "HIT");
  assert.equal(second.headers.get("content-type"), "application/json");
  assert.deepEqual(secondBytes, firstBytes);
  assert.equal(withoutIds(firstBytes), withoutIds(await fixture("message_text.json")));
  for (let i = 0; i < 3; i++) {
    const again = await postMessage(proxy, messageBody("hello"));
    assert.deepEqual(await bytes(again), firstBytes, "every hit replays the whole body");
  }
  assert.equal(proxy.mock.count("/v1/messages"), 1);
});

Deno.test("a repeated SSE request is replayed verbatim, ping events and framing included", async (t) => {
  for (
    const [name, text, extra] of [
      ["text", "hello", {}],
      ["tool_use", "weather?", {
        tools: [{ name: "get_weather", input_schema: { type: "object" } }],
      }],
    ] as const
  ) {
    await t.step(name, async () => {
      await using proxy = await startProxy();
      const body = messageBody(text, { stream: true, ...extra });
      const { first, firstBytes, second, secondBytes } = await twice(proxy, body);
      assert.equal(first.headers.get("x-cache"), "MISS");
      assert.equal(second.headers.get("x-cache"), "HIT");
      assert.equal(second.headers.get("content-type"), "text/event-stream; charset=utf-8");
      assert.deepEqual(secondBytes, firstBytes);
      assert.equal(withoutIds(secondBytes), withoutIds(await fixture(`stream_${name}.sse`)));
      assert.match(
        new TextDecoder().decode(secondBytes),
        /event: ping\ndata: {"type": "ping"}\n\n/,
      );
      for (let i = 0; i < 3; i++) { // from the second hit on, an ASCII body is replayed as text
        const again = await postMessage(proxy, body);
        assert.equal(again.headers.get("content-type"), "text/event-stream; charset=utf-8");
        assert.deepEqual(await bytes(again), firstBytes);
      }
      assert.equal(proxy.mock.count("/v1/messages"), 1);
    });
  }
});

Deno.test("the cache key ignores metadata and beta order, and separates count_tokens", async () => {
  await using proxy = await startProxy();
  const meta = (session: string) =>
    messageBody("hi", { metadata: { user_id: `user_session_${session}` } });
  await bytes(await postMessage(proxy, meta("1"), { "anthropic-beta": "a,b" }));
  const again = await postMessage(proxy, meta("2"), { "anthropic-beta": "b, a" });
  await again.body?.cancel();
  assert.equal(again.headers.get("x-cache"), "HIT");
  const count = await proxy.fetch("/v1/messages/count_tokens", {
    method: "POST",
    headers: { "anthropic-version": "2023-06-01", "anthropic-beta": "a,b" },
    body: meta("1"),
  });
  assert.equal(count.headers.get("x-cache"), "MISS");
  assert.deepEqual(await count.json(), { input_tokens: 2095 });
});

Deno.test("errors pass through unchanged and are never stored", async (t) => {
  for (const status of [400, 429, 529]) {
    await t.step(String(status), async () => {
      await using proxy = await startProxy();
      const { first, firstBytes, second } = await twice(proxy, messageBody(`[mock:${status}]`));
      assert.equal(first.status, status);
      assert.deepEqual(firstBytes, await fixture(`error_${status}.json`));
      assert.equal(first.headers.get("x-cache"), "MISS");
      assert.equal(second.headers.get("x-cache"), "MISS");
      if (status === 429) assert.equal(first.headers.get("retry-after"), "7");
      assert.equal(proxy.mock.count("/v1/messages"), 2);
      assert.equal(await proxy.store.count(), 0);
    });
  }
});

Deno.test("incomplete 200 answers are passed on but never stored", async (t) => {
  for (
    const [scenario, stream] of [["error_midway", true], ["cut", true], ["cut", false]] as const
  ) {
    await t.step(`${scenario} stream=${stream}`, async () => {
      await using proxy = await startProxy();
      const { first, second } = await twice(proxy, messageBody(`[mock:${scenario}]`, { stream }));
      assert.equal(first.status, 200);
      assert.equal(second.headers.get("x-cache"), "MISS");
      assert.equal(proxy.mock.count("/v1/messages"), 2);
      assert.equal(await proxy.store.count(), 0);
    });
  }
});

Deno.test("a miss streams each upstream chunk as it arrives (first byte does not wait for the last)", async () => {
  await using proxy = await startProxy();
  const started = performance.now();
  const res = await postMessage(proxy, messageBody("[mock:slow:100]", { stream: true }));
  const reader = res.body!.getReader();
  await reader.read();
  const firstByteMs = performance.now() - started;
  while (!(await reader.read()).done);
  const totalMs = performance.now() - started;
  assert.ok(totalMs > 1000, `the slow stream takes over a second (${totalMs} ms)`);
  assert.ok(firstByteMs < 150, `first event after ${firstByteMs.toFixed(1)} ms`);
});

Deno.test("the cache holds the TTL: an expired entry is fetched again", async () => {
  let now = 1_000_000;
  await using proxy = await startProxy({ env: { CACHE_TTL_SEC: "60" }, now: () => now });
  await bytes(await postMessage(proxy, messageBody("ttl")));
  now += 59_000;
  const fresh = await postMessage(proxy, messageBody("ttl"));
  await fresh.body?.cancel();
  assert.equal(fresh.headers.get("x-cache"), "HIT");
  now += 2_000;
  const stale = await postMessage(proxy, messageBody("ttl"));
  await stale.body?.cancel();
  assert.equal(stale.headers.get("x-cache"), "MISS");
});

Deno.test("x-cache-bypass: 1 and CACHE_OFF=1 go straight upstream and store nothing", async (t) => {
  await t.step("header", async () => {
    await using proxy = await startProxy();
    const { first, second } = await twice(proxy, messageBody("b"), { "x-cache-bypass": "1" });
    assert.deepEqual([first.headers.get("x-cache"), second.headers.get("x-cache")], [
      "BYPASS",
      "BYPASS",
    ]);
    assert.equal(proxy.mock.count(), 2);
    assert.equal(await proxy.store.count(), 0);
    assert.equal(proxy.mock.calls[0]!.headers["x-cache-bypass"], undefined);
  });
  await t.step("CACHE_OFF", async () => {
    await using proxy = await startProxy({ env: { CACHE_OFF: "1" } });
    const { second } = await twice(proxy, messageBody("b"));
    assert.equal(second.headers.get("x-cache"), "BYPASS");
    assert.equal(proxy.mock.count(), 2);
    assert.equal(await proxy.store.count(), 0);
  });
});

Deno.test("a broken store fails open: requests still reach upstream", async () => {
  const broken = {
    get: () => Promise.reject(new Error("disk on fire")),
    getStale: () => Promise.reject(new Error("disk on fire")),
    similar: () => Promise.reject(new Error("disk on fire")),
    entries: () => ({
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error("disk on fire")) }),
    }),
    put: () => Promise.reject(new Error("disk on fire")),
    delete: () => Promise.resolve(false),
    list: () => Promise.resolve([]),
    inspect: () => Promise.resolve(undefined),
    count: () => Promise.resolve(0),
    bytes: () => Promise.resolve(0),
    prune: () => Promise.resolve(0),
    close: () => Promise.resolve(),
    addCounters: () => Promise.reject(new Error("disk on fire")),
    readCounters: () => Promise.resolve(new Map()),
    addHistory: () => Promise.reject(new Error("disk on fire")),
    readHistory: () => Promise.resolve([]),
  };
  await using proxy = await startProxy({ store: broken });
  const { first, second, secondBytes } = await twice(proxy, messageBody("x"));
  assert.deepEqual([first.status, second.status], [200, 200]);
  assert.equal(second.headers.get("x-cache"), "MISS");
  assert.match(new TextDecoder().decode(secondBytes), /Paris/);
  assert.ok(proxy.logs.some((l) => l.includes("Cache read failed") && l.includes("disk on fire")));
  assert.ok(proxy.logs.some((l) => l.includes("Cache write failed")));
});

Deno.test("a shared store that is down: BYPASS, and /health and /stats say degraded", async () => {
  let down = false;
  const sqlite = SqliteStore.open(":memory:", { maxEntries: 10 });
  // A store whose every call fails while `down`, as a Redis store does during an outage.
  const flaky = new Proxy(sqlite, {
    get(target, name) {
      if (name === "ping") {
        return () => down ? Promise.reject(new Error("down")) : Promise.resolve();
      }
      const value = Reflect.get(target, name);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        down ? Promise.reject(new Error("down")) : value.apply(target, args);
    },
  }) as SqliteStore & { ping(): Promise<void> };
  const logs: string[] = [];
  const store = new FailOpenStore(flaky, createLogger("info", (line) => logs.push(line)), {
    probeEveryMs: 20,
  });
  await using proxy = await startProxy({ store });
  const kind = async () => {
    const res = await postMessage(proxy, messageBody("shared"));
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    return res.headers.get("x-cache");
  };
  assert.deepEqual([await kind(), await kind()], ["MISS", "HIT"]);
  down = true;
  assert.equal(await kind(), "MISS", "the call that meets the outage still goes upstream");
  assert.equal(await kind(), "BYPASS");
  assert.equal((await (await proxy.fetch("/health")).json()).store, "degraded");
  assert.equal((await (await proxy.fetch("/stats")).json()).store.state, "degraded");
  down = false;
  while (store.health() === "degraded") await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(await kind(), "HIT", "back, with what it held");
  assert.equal((await (await proxy.fetch("/stats")).json()).store.state, "ok");
  assert.equal(logs.filter((l) => l.includes("Cache store unreachable")).length, 1);
});
