// deno-lint-ignore-file camelcase -- usage keeps the API's own field names
import assert from "node:assert/strict";
import {
  binRows,
  latencyBucket,
  matches,
  percentile,
  rowOfCall,
  RowSet,
} from "../../src/stats/dashboard/series.js";
import { LATENCY_BOUNDS_MS } from "../../src/values/history_row.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

const BOUNDS = LATENCY_BOUNDS_MS.map((b) => (Number.isFinite(b) ? b : null));
const ANY = { kind: "", model: "", namespace: "" };

function row(start: number, kind: string, calls: number, ms: number, extra = {}) {
  const latency = BOUNDS.map(() => 0);
  latency[latencyBucket(ms, BOUNDS)] = calls;
  return {
    start,
    kind,
    model: "m",
    namespace: "",
    calls,
    tokens: 0,
    usd: 0.5,
    ms,
    latency,
    ...extra,
  };
}

Deno.test("percentile() interpolates inside the bucket that holds the rank", () => {
  const h = BOUNDS.map(() => 0);
  h[latencyBucket(0.5, BOUNDS)] = 50; // 0..1 ms
  h[latencyBucket(700, BOUNDS)] = 50; // 500..1000 ms
  assert.equal(percentile(h, BOUNDS, 0.5), 1, "the 50th of 100 ends the first bucket");
  assert.equal(percentile(h, BOUNDS, 0.9), 900);
  assert.equal(percentile(h, BOUNDS, 0.95), 950);
  assert.equal(percentile(BOUNDS.map(() => 0), BOUNDS, 0.5), null, "no calls, no percentile");
  const slow = BOUNDS.map(() => 0);
  slow[BOUNDS.length - 1] = 3;
  assert.equal(percentile(slow, BOUNDS, 0.95), 60_000, "the open bucket reads as its lower bound");
});

Deno.test("binRows() puts rows in bins, drops those outside the span and sorts kinds", () => {
  const from = 600_000, to = 600_000 + 3 * 300_000 - 1;
  const bins = binRows(
    [
      row(600_000, "HIT", 2, 0.4),
      row(660_000, "HIT-NORM", 1, 0.6),
      row(660_000, "MISS", 3, 800),
      row(900_000, "BYPASS", 1, 700),
      row(900_000, "PASS", 1, 100),
      row(1_200_000, "ERROR", 4, 50),
      row(0, "HIT", 9, 1), // before the span
    ],
    ANY,
    { from, to, binMs: 300_000, buckets: BOUNDS.length },
  );
  assert.deepEqual(
    bins.map((b) => [b.start, b.hits, b.misses, b.bypassed, b.errors]),
    [[600_000, 3, 3, 0, 0], [900_000, 0, 0, 2, 0], [1_200_000, 0, 0, 0, 4]],
  );
  assert.equal(bins[0]!.usdSaved, 1);
  assert.equal(bins[0]!.usdSpent, 0.5);
  assert.equal(percentile(bins[0]!.missLatency, BOUNDS, 0.5), 750);
});

Deno.test("matches() filters by kind (or any hit), model and namespace", () => {
  const call = { kind: "HIT-SUFFIX", model: null, namespace: "team" };
  assert.ok(matches(call, ANY));
  assert.ok(matches(call, { ...ANY, kind: "hits" }));
  assert.ok(!matches(call, { ...ANY, kind: "HIT" }));
  assert.ok(matches(call, { ...ANY, model: "(none)" }));
  assert.ok(!matches(call, { ...ANY, model: "m" }));
  assert.ok(matches(call, { ...ANY, namespace: "team" }));
  assert.ok(!matches({ ...call, namespace: "" }, { ...ANY, namespace: "team" }));
});

Deno.test("rowOfCall() counts tokens as the proxy does, in the call's minute", () => {
  const usage = {
    ...NO_USAGE,
    input_tokens: 10,
    cache_creation_input_tokens: 6,
    ephemeral_5m_input_tokens: 4,
    ephemeral_1h_input_tokens: 2,
    cache_read_input_tokens: 3,
    output_tokens: 5,
  };
  const r = rowOfCall(
    { kind: "MISS", model: null, durationMs: 12, dollars: 0.25, usage },
    BOUNDS,
    125_000,
  );
  assert.equal(r.start, 120_000);
  assert.equal(r.tokens, 24, "cache writes once, through their 5m/1h split");
  assert.equal(r.model, "(none)");
  assert.equal(r.latency[latencyBucket(12, BOUNDS)], 1);
});

Deno.test("RowSet keeps one row per bin, kind, model and namespace, and forgets old bins", () => {
  const rows = new RowSet(300_000);
  for (let i = 0; i < 1000; i++) rows.add(row(600_000 + (i % 5) * 60_000, "HIT", 1, 0.4));
  rows.add(row(900_000, "HIT", 1, 0.4));
  rows.add(row(900_000, "HIT", 1, 0.4, { namespace: "team" }));
  assert.deepEqual(
    rows.list().map((r) => [r.start, r.namespace, r.calls, r.latency[0]]),
    [[600_000, "", 1000, 1000], [900_000, "", 1, 1], [900_000, "team", 1, 1]],
  );
  rows.dropBefore(900_000);
  assert.deepEqual(rows.list().map((r) => r.start), [900_000, 900_000]);
});
