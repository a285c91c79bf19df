import assert from "node:assert/strict";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";

async function call(proxy: ProxyUnderTest, text: string, extra: Record<string, unknown> = {}) {
  const res = await postMessage(proxy, messageBody(text, extra));
  await res.arrayBuffer();
  return res.headers.get("x-cache");
}

/** Reads `/monitor` until `count` call events arrived. */
async function monitorEvents(proxy: ProxyUnderTest, count: number, during: () => Promise<unknown>) {
  const res = await proxy.fetch("/monitor");
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("event: connected")) text += (await reader.read()).value ?? "";
  await during();
  const calls = () => text.split("\n\n").filter((f) => f.startsWith("event: call"));
  while (calls().length < count) text += (await reader.read()).value ?? "";
  await reader.cancel();
  return calls().map((f) => JSON.parse(f.slice(f.indexOf("data: ") + 6)));
}

Deno.test("every served call is one event on /monitor, in seq order, with usage, dollars and snippet", async () => {
  await using proxy = await startProxy();
  const events = await monitorEvents(proxy, 4, async () => {
    await call(proxy, "hello");
    await call(proxy, "hello");
    await call(proxy, "[mock:529]");
    await (await proxy.fetch("/v1/models")).arrayBuffer();
  });
  assert.deepEqual(events.map((e) => e.kind), ["MISS", "HIT", "ERROR", "PASS"]);
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  const [miss, hit] = events;
  assert.equal(miss.model, "claude-sonnet-4-5-20250929");
  assert.equal(miss.usage.input_tokens, 25);
  assert.equal(miss.usage.output_tokens, 15);
  assert.equal(miss.dollars, (25 * 3 + 15 * 15) / 1e6);
  assert.equal(hit.dollars, miss.dollars, "a hit saves what the original call cost");
  assert.match(hit.snippet, /^Hello! The capital of France is Paris/);
  assert.equal(hit.key, miss.key);
  assert.match(hit.key, /^[0-9a-f]{12}$/);
  assert.equal(events[2].status, 529);
});

Deno.test("/stats shows all-time totals, this session, models and the cache size", async () => {
  await using proxy = await startProxy();
  await call(proxy, "a");
  await call(proxy, "a");
  await call(proxy, "a");
  await call(proxy, "b", { stream: true });
  await call(proxy, "b", { stream: true });
  const stats = await (await proxy.fetch("/stats")).json();
  assert.deepEqual([stats.calls, stats.hits, stats.misses, stats.errors], [5, 3, 2, 0]);
  assert.equal(stats.hitRate, 0.6);
  assert.equal(stats.byKind.HIT, 3);
  assert.ok(stats.usdSaved > 0 && stats.usdSpent > 0);
  assert.equal(stats.savingsPct, 60);
  assert.equal(stats.models["claude-sonnet-4-5-20250929"].hits, 3);
  assert.equal(stats.store.entries, 2);
  assert.ok(stats.store.bytes > 1000);
  assert.equal(stats.store.state, "ok");
  assert.equal(stats.session.calls, 5);
  assert.equal(typeof stats.uptimeSec, "number");
});

Deno.test("/cache/entries lists, searches, shows and invalidates entries", async () => {
  await using proxy = await startProxy();
  await call(proxy, "hello");
  await call(proxy, "weather?", {
    tools: [{ name: "get_weather", input_schema: { type: "object" } }],
  });
  const listed = await (await proxy.fetch("/cache/entries")).json();
  assert.equal(listed.entries.length, 2);
  const found = await (await proxy.fetch("/cache/entries?q=get_weather")).json();
  assert.equal(found.entries.length, 1);
  const key: string = found.entries[0].key;
  const shown = await (await proxy.fetch(`/cache/entries/${key.slice(0, 10)}`)).json();
  assert.equal(shown.key, key);
  assert.match(shown.bodyHead, /"tool_use"/);
  assert.equal(shown.bodyBytes, shown.size);
  const deleted = await proxy.fetch(`/cache/entries/${key}`, { method: "DELETE" });
  assert.deepEqual(await deleted.json(), { deleted: true, key });
  const missing = await proxy.fetch(`/cache/entries/${key}`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.type, "not_found_error");
  const bad = await proxy.fetch("/cache/entries/xyz");
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  assert.equal(
    await call(proxy, "weather?", {
      tools: [{ name: "get_weather", input_schema: { type: "object" } }],
    }),
    "MISS",
    "invalidated",
  );
});

Deno.test("the stats views sit behind the auth gate when a token is set", async () => {
  await using proxy = await startProxy({ env: { CACHE_AUTH_TOKEN: "view-token" } });
  const page = await proxy.fetch("/");
  assert.equal(page.status, 200, "the page loads, then asks for the token");
  await page.body?.cancel();
  for (const path of ["/stats", "/metrics", "/monitor", "/cache/entries"]) {
    const denied = await proxy.fetch(path);
    await denied.body?.cancel();
    assert.equal(denied.status, 401, path);
  }
  const allowed = await proxy.fetch("/stats", { headers: { "x-cache-auth": "view-token" } });
  assert.equal(allowed.status, 200);
  await allowed.body?.cancel();
});

Deno.test("no key, token or auth header appears in events, logs or error messages", async () => {
  const secrets = [
    "sk-ant-real-secret-key",
    "s3cret-auth-token",
    "sk-ant-client-secret",
    "oauth-bearer-secret",
  ];
  await using proxy = await startProxy({
    env: { ANTHROPIC_API_KEY_REAL: secrets[0]!, CACHE_AUTH_TOKEN: secrets[1]! },
    upstream: "http://127.0.0.1:8",
  });
  const headers = {
    "x-cache-auth": secrets[1]!,
    "x-api-key": secrets[2]!,
    authorization: `Bearer ${secrets[3]}`,
  };
  const seen: string[] = [];
  proxy.stats.events.subscribe((e) => seen.push(JSON.stringify(e)));
  const failed = await postMessage(proxy, messageBody("hi"), headers);
  seen.push(await failed.text());
  const denied = await postMessage(proxy, messageBody("hi"), { "x-cache-auth": "wrong" });
  seen.push(await denied.text());
  const everything = [...seen, ...proxy.logs].join("\n");
  assert.ok(seen.length >= 3);
  for (const secret of secrets) assert.ok(!everything.includes(secret), `leaked ${secret}`);
});
