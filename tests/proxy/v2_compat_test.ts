/**
 * Each endpoint read the way a script written for llm-cache-proxy v2 read it: the field names,
 * units and meanings of v2's `/stats` (`statsObj()` in its proxy-a.mjs: all time at the top,
 * this run under `session`), the unlabelled series of its `/metrics`, and the fields of its
 * `/monitor` events (`broadcast({ seq, type, from_cache, model, in, out, usd, ms })`).
 */
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";

async function call(proxy: ProxyUnderTest, text: string, headers: Record<string, string> = {}) {
  const res = await postMessage(proxy, messageBody(text), headers);
  await res.arrayBuffer();
  return res.headers.get("x-cache");
}

/** Traffic of every kind v2 counted: a miss, hits, a coalesced hit, a bypass, an error. */
async function traffic(proxy: ProxyUnderTest): Promise<void> {
  assert.equal(await call(proxy, "one"), "MISS");
  assert.equal(await call(proxy, "one"), "HIT");
  assert.equal(await call(proxy, "one"), "HIT");
  const pair = await Promise.all([
    call(proxy, "[mock:slow:300] two"),
    call(proxy, "[mock:slow:300] two"),
  ]);
  assert.deepEqual(pair.sort(), ["HIT-COALESCED", "MISS"]);
  assert.equal(await call(proxy, "one", { "x-cache-bypass": "1" }), "BYPASS");
  const overloaded = await postMessage(proxy, messageBody("[mock:529] three"));
  await overloaded.arrayBuffer();
  assert.equal(overloaded.status, 529, "an error upstream");
}

const V2_FIELDS = [
  "calls",
  "hits",
  "coalesced",
  "misses",
  "errors",
  "hit_rate_pct",
  "tokens_saved",
  "tokens_saved_in",
  "tokens_saved_out",
  "usd_saved",
  "tokens_spent",
  "usd_spent",
  "savings_pct",
];

Deno.test("/stats carries every v2 field with v2's name, unit and meaning", async () => {
  await using proxy = await startProxy();
  await traffic(proxy);
  const stats = await (await proxy.fetch("/stats")).json();
  for (const view of [stats, stats.session]) {
    for (const field of V2_FIELDS) assert.equal(typeof view[field], "number", field);
    // 3 hits and 1 coalesced hit; the miss, the coalesced call's leader and the bypass went
    // upstream (v2 counted a bypass as a miss); the 529 is an error. calls is their sum.
    assert.deepEqual(
      [view.calls, view.hits, view.coalesced, view.misses, view.errors],
      [7, 3, 1, 3, 1],
    );
    assert.equal(view.hit_rate_pct, Number((100 * 3 / 7).toFixed(2)), "a percentage of calls");
    // The mock answers 25 input and 15 output tokens; v2 counted those, never cache tokens.
    assert.deepEqual(
      [view.tokens_saved_in, view.tokens_saved_out, view.tokens_saved],
      [3 * 25, 3 * 15, 3 * 40],
    );
    assert.equal(view.tokens_spent, 3 * 40);
    const usd = (25 * 3 + 15 * 15) / 1e6; // Sonnet's list price, per call
    assert.equal(view.usd_saved, Number((3 * usd).toFixed(4)), "dollars with four decimals");
    assert.equal(view.usd_spent, Number((3 * usd).toFixed(4)));
    assert.equal(view.savings_pct, 50);
  }
  assert.equal(stats.cache, "on", "v2's switch: on or off");
  assert.equal(typeof stats.uptime_s, "number");
  assert.ok(Number.isInteger(stats.uptime_s), "whole seconds");
  await (await proxy.fetch("/cache/off", { method: "POST" })).arrayBuffer();
  assert.equal((await (await proxy.fetch("/stats")).json()).cache, "off");
});

Deno.test("/metrics keeps every v2 series under its name, one unlabelled sample each", async () => {
  await using proxy = await startProxy();
  await traffic(proxy);
  const text = await (await proxy.fetch("/metrics")).text();
  const families = new Map(
    (parsePrometheusTextFormat as (
      t: string,
    ) => { name: string; metrics: { value?: string; labels?: unknown }[] }[])(text)
      .map((f) => [f.name, f.metrics]),
  );
  const value = (name: string) => {
    const samples = families.get(name);
    assert.ok(samples, `no ${name}`);
    assert.equal(samples.length, 1, `${name} is one series, as in v2`);
    assert.equal(samples[0]!.labels, undefined, `${name} has no labels, as in v2`);
    return Number(samples[0]!.value);
  };
  assert.equal(value("llm_cache_calls_total"), 7);
  assert.equal(value("llm_cache_hits_total"), 3);
  assert.equal(value("llm_cache_coalesced_total"), 1);
  assert.equal(value("llm_cache_misses_total"), 3);
  assert.equal(value("llm_cache_errors_total"), 1);
  assert.equal(value("llm_cache_hit_ratio"), Number((3 / 7).toFixed(4)));
  assert.equal(value("llm_cache_tokens_saved_total"), 120);
  assert.ok(value("llm_cache_usd_saved_total") > 0);
  assert.ok(value("llm_cache_usd_spent_total") > 0);
  assert.ok(
    (families.get("llm_cache_calls_by_kind_total") ?? []).length >= 4,
    "the breakdown by kind and model lives under a new name",
  );
});

Deno.test("/monitor events carry v2's fields", async () => {
  await using proxy = await startProxy();
  const res = await proxy.fetch("/monitor");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n\n")) text += (await reader.read()).value ?? "";
  const before = Date.now();
  await call(proxy, "watched");
  await call(proxy, "watched");
  const events = () =>
    text.split("\n\n").filter((f) => f.includes("event: call")).map((f) =>
      JSON.parse(f.slice(f.indexOf("data: ") + 6))
    );
  while (events().length < 2) text += (await reader.read()).value ?? "";
  await reader.cancel();
  const [miss, hit] = events();
  for (const [event, type, fromCache] of [[miss, "MISS", false], [hit, "HIT", true]] as const) {
    assert.equal(event.type, type);
    assert.equal(event.from_cache, fromCache);
    assert.equal(event.model, "claude-sonnet-4-5-20250929");
    assert.deepEqual([event.in, event.out], [25, 15]);
    assert.equal(event.usd, (25 * 3 + 15 * 15) / 1e6);
    assert.ok(Number.isInteger(event.ms) && event.ms >= 0);
    assert.ok(Number.isInteger(event.t) && event.t >= before - 1000 && event.t <= Date.now());
    assert.equal(typeof event.seq, "number");
  }
});
