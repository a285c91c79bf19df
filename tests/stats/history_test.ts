import assert from "node:assert/strict";
import type { CallEvent } from "../../src/stats/events.ts";
import type { CallKind } from "../../src/values/call_kind.ts";
import { History } from "../../src/stats/history.ts";
import { latencyBucket } from "../../src/stats/history_row.ts";
import { type HistoryRow, LATENCY_BOUNDS_MS } from "../../src/values/history_row.ts";
import { NO_USAGE } from "../../src/values/usage.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { messageBody, postMessage, startProxy } from "../support/proxy.ts";

const T0 = Date.UTC(2026, 0, 10, 9, 58, 30);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let seq = 0;
function event(kind: CallKind, durationMs: number, extra: Partial<CallEvent> = {}): CallEvent {
  return {
    seq: ++seq,
    time: new Date(T0).toISOString(),
    kind,
    model: "claude-sonnet-4-5",
    path: "/v1/messages",
    status: 200,
    bytes: 10,
    durationMs,
    usage: { ...NO_USAGE, input_tokens: 20, output_tokens: 5 },
    dollars: 0.001,
    snippet: "",
    key: "abc",
    ...extra,
  };
}

const calls = (rows: HistoryRow[], kind: CallKind) =>
  rows.filter((r) => r.kind === kind).reduce((n, r) => n + r.calls, 0);

Deno.test("History: shows calls before they are written, and after a restart from the store", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const clock = { t: T0 };
    const now = () => clock.t;
    let store = SqliteStore.open(`${dir}/cache.db`, { maxEntries: 10, now });
    let history = new History(store, { now, flushEveryMs: 3_600_000 });
    history.record(event("MISS", 700));
    history.record(event("HIT", 0.4));
    clock.t += 2 * MINUTE; // 10:00:30, the next hour
    history.record(event("HIT", 0.6, { namespace: "team", model: null }));
    history.record(event("BYPASS", 650, { dollars: 0.002 }));

    const unsaved = await history.read("1h");
    assert.deepEqual(await store.readHistory("minute", 0), [], "nothing written yet");
    assert.equal(unsaved.stepMs, MINUTE);
    assert.equal(calls(unsaved.rows, "HIT"), 2);
    assert.equal(calls(unsaved.rows, "BYPASS"), 1, "bypassed calls are kept too");
    const teamHit = unsaved.rows.find((r) => r.namespace === "team")!;
    assert.equal(teamHit.model, "(none)");
    assert.equal(teamHit.start, T0 - 30_000 + 2 * MINUTE);
    assert.equal(teamHit.latency[latencyBucket(0.6)], 1);
    assert.equal(teamHit.tokens, 25);

    await history.close();
    await store.close();
    store = SqliteStore.open(`${dir}/cache.db`, { maxEntries: 10, now });
    history = new History(store, { now, flushEveryMs: 3_600_000 });
    const reread = await history.read("1h");
    const order = (rows: HistoryRow[]) => rows.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(order(reread.rows), order(unsaved.rows));

    const hours = await history.read("7d");
    assert.equal(hours.resolution, "hour");
    assert.deepEqual(
      hours.rows.filter((r) => r.kind === "HIT").map((r) => [r.start, r.calls]).sort(),
      [[T0 - 30_000 - 118 * MINUTE, 1], [T0 - 30_000 + 2 * MINUTE, 1]],
      "each call also counts in its hour, shown in 2-hour steps",
    );
    assert.equal(
      hours.rows.find((r) => r.kind === "BYPASS")?.usd,
      0.002,
    );

    clock.t += 2 * HOUR;
    const later = await history.read("1h");
    assert.deepEqual(later.rows, [], "the last hour no longer holds them");
    const day = await history.read("24h");
    assert.equal(day.stepMs, 15 * MINUTE, "a day in the page's 15-minute steps");
    assert.deepEqual(
      day.rows.map((r) => [r.kind, r.namespace, (r.start - day.from) / MINUTE]).sort(),
      [["BYPASS", "", 1320], ["HIT", "", 1305], ["HIT", "team", 1320], ["MISS", "", 1305]],
    );
    await history.close();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("History: a failed write keeps the rows for the next flush", async () => {
  const store = SqliteStore.open(":memory:", { maxEntries: 10 });
  let failing = true;
  const flaky = {
    addHistory: (...args: Parameters<SqliteStore["addHistory"]>) =>
      failing ? Promise.reject(new Error("disk full")) : store.addHistory(...args),
    readHistory: (...args: Parameters<SqliteStore["readHistory"]>) => store.readHistory(...args),
  };
  const history = new History(flaky, { flushEveryMs: 3_600_000 });
  history.record(event("MISS", 5));
  await assert.rejects(history.flush(), /disk full/);
  history.record(event("MISS", 5));
  assert.equal(calls((await history.read("1h")).rows, "MISS"), 2, "still shown while unsaved");
  failing = false;
  await history.flush();
  assert.equal(calls(await store.readHistory("minute", 0), "MISS"), 2);
  assert.equal(calls((await history.read("1h")).rows, "MISS"), 2, "counted once, not twice");
  await history.close();
  await store.close();
});

Deno.test("latencyBucket() puts a duration in the first bucket whose bound holds it", () => {
  assert.equal(latencyBucket(0), 0);
  assert.equal(latencyBucket(1), 0);
  assert.equal(latencyBucket(1.01), 1);
  assert.equal(latencyBucket(700), LATENCY_BOUNDS_MS.indexOf(1_000));
  assert.equal(latencyBucket(1e9), LATENCY_BOUNDS_MS.length - 1);
});

Deno.test("GET /stats/history serves the proxy's calls, survives a restart and refuses a bad range", async () => {
  const dir = await Deno.makeTempDir();
  const open = () => SqliteStore.open(`${dir}/cache.db`, { maxEntries: 10 });
  try {
    {
      await using proxy = await startProxy({ store: open() });
      for (const text of ["a", "a", "b"]) {
        await (await postMessage(proxy, messageBody(text))).arrayBuffer();
      }
      await (await postMessage(proxy, messageBody("a"), { "x-cache-bypass": "1" })).arrayBuffer();
      const res = await proxy.fetch("/stats/history?range=6h");
      assert.equal(res.status, 200);
      const view = await res.json();
      assert.equal(view.range, "6h");
      assert.equal(
        view.latencyBoundsMs.at(-1),
        null,
        "the open bucket's bound, as JSON can hold it",
      );
      assert.deepEqual(
        [calls(view.rows, "MISS"), calls(view.rows, "HIT"), calls(view.rows, "BYPASS")],
        [2, 1, 1],
      );
      const bad = await proxy.fetch("/stats/history?range=2y");
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error.message, /range=2y .*1h, 6h, 24h, 7d, 30d/);
    }
    await using restarted = await startProxy({ store: open() });
    const view = await (await restarted.fetch("/stats/history")).json();
    assert.equal(view.range, "1h");
    assert.equal(calls(view.rows, "MISS") + calls(view.rows, "HIT"), 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GET /stats/history sits behind the auth gate; the page's files do not", async () => {
  await using proxy = await startProxy({
    env: { CACHE_HOST: "127.0.0.1", CACHE_AUTH_TOKEN: "t0k" },
  });
  const refused = await proxy.fetch("/stats/history?range=24h");
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const allowed = await proxy.fetch("/stats/history?range=24h", {
    headers: { "x-cache-auth": "t0k" },
  });
  assert.equal(allowed.status, 200);
  assert.deepEqual((await allowed.json()).rows, []);
  for (const path of ["/", "/dashboard.js", "/dashboard.css", "/format_usd.js"]) {
    const res = await proxy.fetch(path);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    await res.body?.cancel();
  }
  const missing = await proxy.fetch("/nothing.js", { headers: { "x-cache-auth": "t0k" } });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});
