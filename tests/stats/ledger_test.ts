import assert from "node:assert/strict";
import type { CallEvent } from "../../src/stats/events.ts";
import type { CallKind } from "../../src/values/call_kind.ts";
import { Ledger } from "../../src/stats/ledger.ts";
import { NO_USAGE } from "../../src/values/usage.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";

let seq = 0;
function event(kind: CallKind, model: string | null, dollars: number, tokens = 10): CallEvent {
  return {
    seq: ++seq,
    time: new Date().toISOString(),
    kind,
    model,
    path: "/v1/messages",
    status: 200,
    bytes: 100,
    durationMs: 1,
    usage: { ...NO_USAGE, input_tokens: tokens / 2, output_tokens: tokens / 2 },
    dollars,
    snippet: "",
    key: null,
  };
}

Deno.test("Ledger totals hits, misses and errors, tokens and dollars, by kind and model", async () => {
  const store = SqliteStore.open(":memory:", { maxEntries: 10 });
  const ledger = await Ledger.open(store);
  for (
    const e of [
      event("MISS", "a", 1),
      event("HIT", "a", 1),
      event("HIT-COALESCED", "b", 2),
      event("ERROR", "b", 0.5),
    ]
  ) {
    ledger.record(e);
  }
  const t = ledger.allTime();
  assert.deepEqual([t.calls, t.hits, t.misses, t.errors], [4, 2, 1, 1]);
  assert.deepEqual([t.usdSaved, t.usdSpent, t.tokensSaved, t.tokensSpent], [3, 1.5, 20, 20]);
  assert.equal(t.hitRate, 2 / 3);
  assert.equal(t.savingsPct, (100 * 3) / 4.5);
  assert.deepEqual(t.byKind, { MISS: 1, HIT: 1, "HIT-COALESCED": 1, ERROR: 1 });
  assert.deepEqual([t.models.a?.hits, t.models.b?.errors, t.models.b?.usdSaved], [1, 1, 2]);
  await ledger.close();
  await store.close();
});

Deno.test("Ledger keeps all-time counts across a restart and starts each session at zero", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const first = SqliteStore.open(path, { maxEntries: 10 });
  const ledger = await Ledger.open(first);
  ledger.record(event("HIT", "m", 1));
  ledger.record(event("MISS", "m", 1));
  await ledger.close();
  await first.close();
  const second = SqliteStore.open(path, { maxEntries: 10 });
  const again = await Ledger.open(second);
  again.record(event("HIT", "m", 1));
  assert.deepEqual([again.allTime().calls, again.allTime().hits], [3, 2]);
  assert.deepEqual([again.session().calls, again.session().hits], [1, 1]);
  await again.close();
  await second.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Ledger writes counters in the background, once per flush, never per call", async () => {
  const writes: number[] = [];
  const store = {
    addCounters: (
      deltas: ReadonlyMap<string, number>,
    ) => (writes.push(deltas.size), Promise.resolve()),
    readCounters: () => Promise.resolve(new Map<string, number>()),
  };
  const ledger = await Ledger.open(store, { flushEveryMs: 60_000 });
  for (let i = 0; i < 1000; i++) ledger.record(event("HIT", "m", 0.001));
  assert.deepEqual(writes, [], "recording never writes");
  await ledger.flush();
  assert.deepEqual(writes, [5], "one write of the five counters that changed");
  await ledger.flush();
  assert.deepEqual(writes, [5], "nothing pending, nothing written");
  await ledger.close();
});

Deno.test("Ledger keeps model names whole and folds past 200 distinct models into (other)", async () => {
  const store = SqliteStore.open(":memory:", { maxEntries: 10 });
  const ledger = await Ledger.open(store);
  ledger.record(event("HIT", "odd\tname", 1));
  for (let i = 0; i < 250; i++) ledger.record(event("MISS", `made-up-${i}`, 0));
  const models = Object.keys(ledger.allTime().models);
  assert.ok(models.includes("odd\tname"));
  assert.equal(models.length, 201);
  assert.equal(ledger.allTime().models["(other)"]?.calls, 51);
  await ledger.close();
  await store.close();
});

Deno.test("Ledger.summary() keeps the all-time figures call by call", async () => {
  const store = SqliteStore.open(":memory:", { maxEntries: 10 });
  const first = await Ledger.open(store);
  first.record(event("MISS", "m", 2));
  await first.close();
  const ledger = await Ledger.open(store);
  for (const e of [event("HIT", "m", 2), event("BYPASS", "m", 1), event("ERROR", null, 0)]) {
    ledger.record(e);
  }
  const { byKind: _k, models: _m, ...expected } = ledger.allTime();
  assert.deepEqual(ledger.summary(), expected);
  assert.deepEqual([expected.calls, expected.bypassed, expected.usdSaved], [4, 1, 2]);
  await ledger.close();
  await store.close();
});

Deno.test("Ledger reports dollars without float noise", async () => {
  const store = SqliteStore.open(":memory:", { maxEntries: 10 });
  const ledger = await Ledger.open(store);
  ledger.record(event("MISS", "a", 0.0003));
  ledger.record(event("MISS", "b", 0.0001));
  assert.equal(ledger.allTime().usdSpent, 0.0004);
  assert.equal(ledger.summary().usdSpent, 0.0004);
  assert.equal(ledger.allTime().models.a?.usdSpent, 0.0003);
  await ledger.close();
  await store.close();
});

Deno.test("all-time totals include what other processes on the same store counted", async () => {
  const path = await Deno.makeTempFile({ suffix: ".db" });
  const storeA = SqliteStore.open(path, { maxEntries: 10 });
  const storeB = SqliteStore.open(path, { maxEntries: 10 });
  const a = await Ledger.open(storeA, { flushEveryMs: 60_000 });
  const b = await Ledger.open(storeB, { flushEveryMs: 60_000 });
  try {
    a.record(event("MISS", "m", 1));
    b.record(event("HIT", "m", 1));
    b.record(event("HIT", "m", 1));
    await a.flush();
    await b.flush();
    await a.flush();
    for (const ledger of [a, b]) {
      const t = ledger.allTime();
      assert.deepEqual([t.calls, t.hits, t.misses], [3, 2, 1], "the fleet's totals");
      assert.equal(ledger.summary().calls, 3);
    }
    assert.equal(a.session().calls, 1, "each keeps its own session");
    assert.equal(b.session().calls, 2);
    a.record(event("HIT", "m", 1));
    assert.equal(a.allTime().calls, 4, "a call counted after the refresh adds to it at once");
    await a.flush();
    assert.equal(a.allTime().calls, 4, "and is not counted twice once written");
  } finally {
    await a.close();
    await b.close();
    await storeA.close();
    await storeB.close();
    await Deno.remove(path);
  }
});
