/**
 * Per-request controls (x-cache-refresh, -ttl, -namespace, -mode, -replay), the response headers
 * every cached-route answer carries, replay and record modes, stale-if-error and miss explanations.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";
import { EXPLAIN_AFTER_MS, EXPLAIN_MAX_BYTES } from "../../src/proxy/miss_explanation.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

async function call(
  proxy: ProxyUnderTest,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ res: Response; text: string }> {
  const res = await postMessage(proxy, body, headers);
  return { res, text: await res.text() };
}

/** A clock the test moves. */
function clock(start = Date.UTC(2026, 10, 26, 12)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

Deno.test("every answer of the cached route names its key; hits also their age", async () => {
  const time = clock();
  await using proxy = await startProxy({ now: time.now });
  const miss = await call(proxy, messageBody("headers"));
  assert.equal(miss.res.headers.get("x-cache"), "MISS");
  const key = miss.res.headers.get("x-cache-key")!;
  assert.match(key, /^[0-9a-f]{12}$/);
  const [stored] = await proxy.store.list({ keyPrefix: key });
  assert.ok(stored, "the header's prefix finds the stored entry (as explore --view does)");
  time.advance(42_000);
  const hit = await call(proxy, messageBody("headers"));
  assert.deepEqual(
    ["x-cache", "x-cache-key", "x-cache-age"].map((h) => hit.res.headers.get(h)),
    ["HIT", key, "42"],
  );
  const bypass = await call(proxy, messageBody("headers"), { "x-cache-bypass": "1" });
  assert.deepEqual([bypass.res.headers.get("x-cache"), bypass.res.headers.get("x-cache-key")], [
    "BYPASS",
    key,
  ]);
});

Deno.test("x-cache-refresh goes upstream and replaces the entry; x-cache-ttl sets its lifetime", async () => {
  const time = clock();
  await using proxy = await startProxy({ now: time.now });
  const first = await call(proxy, messageBody("refresh me"));
  const refreshed = await call(proxy, messageBody("refresh me"), { "x-cache-refresh": "1" });
  assert.equal(refreshed.res.headers.get("x-cache"), "MISS");
  assert.notEqual(JSON.parse(refreshed.text).id, JSON.parse(first.text).id, "a fresh answer");
  const hit = await call(proxy, messageBody("refresh me"));
  assert.equal(JSON.parse(hit.text).id, JSON.parse(refreshed.text).id, "the new one is kept");
  assert.equal(proxy.mock.count("/v1/messages"), 2);

  const short = await call(proxy, messageBody("short-lived"), { "x-cache-ttl": "60" });
  const [entry] = await proxy.store.list({ keyPrefix: short.res.headers.get("x-cache-key")! });
  assert.equal(entry!.expiresAt - entry!.createdAt, 60_000);
  time.advance(61_000);
  assert.equal((await call(proxy, messageBody("short-lived"))).res.headers.get("x-cache"), "MISS");
});

Deno.test("x-cache-namespace partitions the key space", async () => {
  await using proxy = await startProxy();
  const body = messageBody("same prompt, two suites");
  const kind = async (ns?: string) =>
    (await call(proxy, body, ns ? { "x-cache-namespace": ns } : {})).res.headers.get("x-cache");
  assert.deepEqual([await kind("suite-a"), await kind("suite-b"), await kind()], [
    "MISS",
    "MISS",
    "MISS",
  ]);
  assert.deepEqual([await kind("suite-a"), await kind("suite-b"), await kind()], [
    "HIT",
    "HIT",
    "HIT",
  ]);
  const namespaces = (await proxy.store.list()).map((e) => e.namespace).sort();
  assert.deepEqual(namespaces, ["", "suite-a", "suite-b"]);
});

Deno.test("bad control values are a 400 naming the header; controls never go upstream", async () => {
  await using proxy = await startProxy();
  for (
    const [name, value] of [
      ["x-cache-ttl", "soon"],
      ["x-cache-ttl", "0"],
      ["x-cache-namespace", "has space"],
      ["x-cache-mode", "sometimes"],
      ["x-cache-refresh", "maybe"],
      ["x-cache-replay", "slow-motion"],
    ]
  ) {
    const { res, text } = await call(proxy, messageBody("bad control"), { [name!]: value! });
    assert.equal(res.status, 400, `${name}: ${value}`);
    const error = JSON.parse(text);
    assert.equal(error.error.type, "invalid_request_error");
    assert.match(error.error.message, new RegExp(`^${name}: "${value}"`));
  }
  assert.equal(proxy.mock.count(), 0);
  await call(proxy, messageBody("good controls"), {
    "x-cache-ttl": "100",
    "x-cache-namespace": "ci",
    "x-cache-mode": "record",
    "x-cache-refresh": "1",
    "x-cache-replay": "instant",
  });
  const sent = Object.keys(proxy.mock.calls[0]!.headers).filter((h) => h.startsWith("x-cache"));
  assert.deepEqual(sent, []);
});

Deno.test("replay mode never calls upstream: a miss fails at once, naming the key and the fix", async () => {
  await using proxy = await startProxy({ env: { CACHE_MODE: "replay" } });
  const client = new Anthropic({ baseURL: proxy.url, apiKey: "sk-ant-test", maxRetries: 0 });
  const request = {
    model: "claude-sonnet-4-5-20250929",
    "max_tokens": 64,
    messages: [{ role: "user" as const, content: "never recorded" }],
  };
  const error = await client.messages.create(request).then(
    () => assert.fail("replay mode answered a request it never recorded"),
    (e) => e,
  );
  assert.ok(error instanceof Anthropic.NotFoundError, String(error));
  assert.match(error.message, /replay mode/);
  assert.match(error.message, /key [0-9a-f]{12}/);
  assert.match(error.message, /x-cache-mode: record/);
  assert.equal(proxy.mock.count(), 0);

  // Record it with a per-request override, then replay mode serves it.
  const recorded = await client.messages.create(request, {
    headers: { "x-cache-mode": "record" },
  });
  const replayed = await client.messages.create(request);
  assert.deepEqual(replayed, recorded);
  assert.equal(proxy.mock.count(), 1);
  const kinds = proxy.stats.ledger.session().byKind;
  assert.deepEqual([kinds.ERROR, kinds.MISS, kinds.HIT], [1, 1, 1]);
});

Deno.test("record mode always goes upstream and always stores", async () => {
  await using proxy = await startProxy({ env: { CACHE_MODE: "record" } });
  const a = await call(proxy, messageBody("record"));
  const b = await call(proxy, messageBody("record"));
  assert.deepEqual([a.res.headers.get("x-cache"), b.res.headers.get("x-cache")], ["MISS", "MISS"]);
  const normal = await call(proxy, messageBody("record"), { "x-cache-mode": "normal" });
  assert.equal(normal.res.headers.get("x-cache"), "HIT");
  assert.equal(JSON.parse(normal.text).id, JSON.parse(b.text).id, "the latest recording");
  assert.equal(proxy.mock.count(), 2);
});

/** A fetch that fails as told: a status, or a dropped connection. */
function failingFetch(): { fetch: typeof fetch; fail: (how: number | "down" | undefined) => void } {
  let failure: number | "down" | undefined;
  return {
    fail: (how) => void (failure = how),
    fetch: (input, init) => {
      if (failure === "down") return Promise.reject(new TypeError("connection refused"));
      if (failure !== undefined) {
        return Promise.resolve(
          Response.json({
            type: "error",
            error: { type: "overloaded_error", message: "Overloaded" },
          }, {
            status: failure,
          }),
        );
      }
      return fetch(input, init);
    },
  };
}

Deno.test("stale-if-error: an expired answer is served when upstream fails, within CACHE_STALE_SEC", async () => {
  const time = clock();
  const upstream = failingFetch();
  await using proxy = await startProxy({
    now: time.now,
    fetch: upstream.fetch,
    env: { CACHE_TTL_SEC: "60", CACHE_STALE_SEC: "3600" },
  });
  const original = await call(proxy, messageBody("keep me warm"));
  time.advance(120_000); // expired a minute ago
  for (const how of [529, 500, 429, "down"] as const) {
    upstream.fail(how);
    const stale = await call(proxy, messageBody("keep me warm"));
    assert.equal(stale.res.status, 200, String(how));
    assert.equal(stale.res.headers.get("x-cache"), "STALE", String(how));
    assert.equal(stale.text, original.text, "the stored bytes");
  }
  upstream.fail(400);
  const clientError = await call(proxy, messageBody("keep me warm"));
  assert.equal(clientError.res.status, 400, "a 400 is the request's fault: passed through");
  upstream.fail(529);
  time.advance(3600_000); // past the stale window
  const tooOld = await call(proxy, messageBody("keep me warm"));
  assert.deepEqual([tooOld.res.status, tooOld.res.headers.get("x-cache")], [529, "MISS"]);
  assert.equal(JSON.parse(tooOld.text).error.type, "overloaded_error", "unchanged");
  assert.equal(proxy.stats.ledger.session().byKind.STALE, 4);
});

Deno.test("stale-if-error is off with CACHE_STALE_SEC=0", async () => {
  const time = clock();
  const upstream = failingFetch();
  await using proxy = await startProxy({
    now: time.now,
    fetch: upstream.fetch,
    env: { CACHE_TTL_SEC: "60", CACHE_STALE_SEC: "0" },
  });
  await call(proxy, messageBody("no stale"));
  time.advance(61_000);
  upstream.fail(529);
  const res = await call(proxy, messageBody("no stale"));
  assert.deepEqual([res.res.status, res.res.headers.get("x-cache")], [529, "MISS"]);
});

Deno.test("a miss says which message differs from the nearest stored request", async () => {
  // A real upstream takes far longer than the explanation; this one is made to take 50 ms.
  const slowFetch: typeof fetch = async (input, init) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return fetch(input, init);
  };
  await using proxy = await startProxy({ fetch: slowFetch });
  const conversation = (last: string) =>
    messageBody("first question", {
      messages: [
        { role: "user", content: "first question" },
        { role: "assistant", content: "first answer" },
        { role: "user", content: last },
      ],
    });
  const first = await call(proxy, conversation("second question"));
  assert.equal(first.res.headers.get("x-cache-miss"), null, "nothing stored to compare with");
  const second = await call(proxy, conversation("another second question"));
  assert.equal(second.res.headers.get("x-cache"), "MISS");
  assert.match(second.res.headers.get("x-cache-miss") ?? "", /messages\[2\]/);
  const other = await call(proxy, messageBody("first question", { max_tokens: 7 }));
  assert.match(other.res.headers.get("x-cache-miss") ?? "", /max_tokens|messages/);
});

Deno.test("a miss never reads a 20 MB stored request of its model to explain itself", async () => {
  const store = SqliteStore.open(":memory:", { maxEntries: 100 });
  let read = 0; // request bytes similar() handed to the proxy: an upper bound of what it parsed
  const similar = store.similar.bind(store);
  store.similar = async (query) => {
    const found = await similar(query);
    read += found.reduce((sum, s) => sum + s.request.byteLength, 0);
    return found;
  };
  const slowFetch: typeof fetch = async (input, init) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return fetch(input, init);
  };
  await using proxy = await startProxy({ store, fetch: slowFetch });
  const turns = (last: string, padding = "") =>
    messageBody("first", {
      system: `Be brief.${padding}`,
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: "answer" },
        { role: "user", content: last },
      ],
    });
  await call(proxy, turns("small"));
  const huge = new TextEncoder().encode(turns("huge", "x".repeat(20 * 1024 * 1024)));
  const now = Date.now();
  await store.put({
    key: "f".repeat(64),
    status: 200,
    contentType: "application/json",
    model: "claude-sonnet-4-5-20250929",
    path: "/v1/messages",
    createdAt: now + 1, // the newest: it would be read first
    expiresAt: now + 3_600_000,
    usage: NO_USAGE,
    snippet: "",
    namespace: "",
    timing: [],
    body: new TextEncoder().encode("{}"),
    request: huge,
  });
  read = 0;
  const miss = await call(proxy, turns("other"));
  assert.equal(miss.res.headers.get("x-cache"), "MISS");
  assert.equal(miss.res.headers.get("x-cache-miss"), "messages[2].content differs");
  const replay = await call(proxy, turns("replayed"), { "x-cache-mode": "replay" });
  assert.equal(replay.res.status, 404);
  assert.match(replay.text, /nearest stored request: messages\[2\]\.content differs/);
  assert.ok(read > 0 && read <= 2 * EXPLAIN_MAX_BYTES, `read ${read} request bytes for 2 misses`);
});

Deno.test("a miss whose head comes at once never spends time explaining itself", async () => {
  const store = SqliteStore.open(":memory:", { maxEntries: 100 });
  let asked = 0;
  const similar = store.similar.bind(store);
  store.similar = (query) => {
    asked++;
    return similar(query);
  };
  const answer = await Deno.readFile(
    new URL("../fixtures/anthropic/message_text.json", import.meta.url),
  );
  const instant: typeof fetch = () =>
    Promise.resolve(new Response(answer, { headers: { "content-type": "application/json" } }));
  await using proxy = await startProxy({ store, fetch: instant });
  await call(proxy, messageBody("first"));
  const miss = await call(proxy, messageBody("second"));
  assert.equal(miss.res.headers.get("x-cache"), "MISS");
  assert.equal(miss.res.headers.get("x-cache-miss"), null);
  await new Promise((resolve) => setTimeout(resolve, 4 * EXPLAIN_AFTER_MS));
  assert.equal(asked, 0, "no stored request was read to explain a miss already answered");
});

Deno.test("x-cache-replay: realtime replays a stream at its recorded pace; the default is instant", async () => {
  await using proxy = await startProxy();
  const body = messageBody("[mock:slow:30] paced", { stream: true });
  const timed = async (headers: Record<string, string> = {}) => {
    const started = performance.now();
    const res = await postMessage(proxy, body, headers);
    const arrivals: number[] = [];
    for await (const _ of res.body!) arrivals.push(performance.now() - started);
    return { res, arrivals, total: performance.now() - started };
  };
  const recorded = await timed();
  assert.equal(recorded.res.headers.get("x-cache"), "MISS");
  const [entry] = await proxy.store.list({ limit: 1 });
  const stored = await proxy.store.inspect(entry!.key);
  assert.ok(stored!.timing.length > 3, "the chunks' arrival times are stored");
  const instant = await timed();
  assert.equal(instant.res.headers.get("x-cache"), "HIT");
  const paced = await timed({ "x-cache-replay": "realtime" });
  assert.equal(paced.res.headers.get("x-cache"), "HIT");
  const span = stored!.timing.at(-1)![1] - stored!.timing[0]![1];
  assert.ok(span >= 90, `recorded over ${span} ms`);
  assert.ok(paced.total >= span * 0.8, `paced replay took ${paced.total} ms for ${span} ms`);
  assert.ok(paced.arrivals.length > 3, "sent in several chunks");
  assert.ok(instant.total < span / 2, `instant replay took ${instant.total} ms`);
});
