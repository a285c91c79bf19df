import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import type { CallEvent } from "../../src/stats/events.ts";
import { History } from "../../src/stats/history.ts";
import { Ledger } from "../../src/stats/ledger.ts";
import { NO_USAGE } from "../../src/values/usage.ts";
import {
  type FailOpenOptions,
  FailOpenStore,
  type PingableStore,
} from "../../src/store/fail_open.ts";
import { StoreUnavailableError } from "../../src/store/store_unavailable_error.ts";
import { RedisStore } from "../../src/store/redis.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { FlightLocks, HeldLock, ListOptions, NewEntry } from "../../src/store/store.ts";
import { newEntry } from "../support/entry.ts";
import { startRedis } from "../support/redis.ts";
import { needs } from "../support/tools.ts";

/** A SQLite store whose every call can be made to fail, with the calls it received counted. */
class FakeStore implements PingableStore {
  down = false;
  /** Set to hold the next call until `release` is called. */
  hold: PromiseWithResolvers<void> | undefined;
  /** Set to make pings hang. */
  pingHangs = false;
  calls = 0;
  pings = 0;
  closed = false;
  released = new Map<string, PromiseWithResolvers<void>>();
  #sqlite = SqliteStore.open(":memory:", { maxEntries: 100 });
  readonly locks: FlightLocks = {
    acquire: (key) => this.#call(() => this.#acquire(key)),
    follow: (key) => this.#call(() => this.#released(key).promise.then(() => undefined)),
  };

  async #call<T>(call: () => T | Promise<T>): Promise<T> {
    this.calls++;
    const hold = this.hold;
    this.hold = undefined;
    if (hold) await hold.promise;
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
    return await call();
  }

  #acquire(key: string): HeldLock {
    return {
      extend: () => this.#call(() => {}),
      release: () => this.#call(() => this.#released(key).resolve()),
      publish: (answer) => answer,
      followed: () => Promise.resolve(false),
    };
  }

  #released(key: string): PromiseWithResolvers<void> {
    let waiting = this.released.get(key);
    if (!waiting) this.released.set(key, waiting = Promise.withResolvers());
    return waiting;
  }

  ping(): Promise<void> {
    this.pings++;
    if (this.pingHangs) return new Promise(() => {});
    return this.down ? Promise.reject(new Error("still down")) : Promise.resolve();
  }
  get = (key: string) => this.#call(() => this.#sqlite.get(key));
  getStale = (key: string, graceMs: number) =>
    this.#call(() => this.#sqlite.getStale(key, graceMs));
  inspect = (key: string) => this.#call(() => this.#sqlite.inspect(key));
  similar = (query: Parameters<SqliteStore["similar"]>[0]) =>
    this.#call(() => this.#sqlite.similar(query));
  list = (options?: ListOptions) => this.#call(() => this.#sqlite.list(options));
  count = () => this.#call(() => this.#sqlite.count());
  bytes = () => this.#call(() => this.#sqlite.bytes());
  put = (entry: NewEntry, aliases?: readonly string[]) =>
    this.#call(() => this.#sqlite.put(entry, aliases));
  delete = (key: string) => this.#call(() => this.#sqlite.delete(key));
  prune = (olderThan: number) => this.#call(() => this.#sqlite.prune(olderThan));
  addCounters = (deltas: ReadonlyMap<string, number>) =>
    this.#call(() => this.#sqlite.addCounters(deltas));
  readCounters = () => this.#call(() => this.#sqlite.readCounters());
  addHistory = (...args: Parameters<SqliteStore["addHistory"]>) =>
    this.#call(() => this.#sqlite.addHistory(...args));
  readHistory = (...args: Parameters<SqliteStore["readHistory"]>) =>
    this.#call(() => this.#sqlite.readHistory(...args));
  async *entries(options?: { readonly namespace?: string; readonly since?: number }) {
    for await (const entry of this.#sqlite.entries(options)) {
      await this.#call(() => {});
      yield entry;
    }
  }
  async close(): Promise<void> {
    this.closed = true;
    await this.#sqlite.close();
  }
}

/** A wrapper around a fresh fake, with the lines it logs. */
function setup(options: FailOpenOptions = {}) {
  const inner = new FakeStore();
  const lines: string[] = [];
  const log = createLogger("debug", (line) => lines.push(line));
  const store = new FailOpenStore(inner, log, { probeEveryMs: 60_000, ...options });
  const warnings = () => lines.filter((l) => l.includes("ERROR Cache store unreachable"));
  const backs = () => lines.filter((l) => l.includes("INFO Cache store is back"));
  return { inner, store, lines, warnings, backs };
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

Deno.test("FailOpenStore delegates every call while the store is up", async () => {
  const { inner, store, lines } = setup();
  await store.put(newEntry("k1"), ["a1"]);
  assert.equal((await store.get("a1"))?.key, "k1");
  assert.equal((await store.inspect("k1"))?.key, "k1");
  assert.equal(await store.count(), 1);
  assert.equal((await store.list()).length, 1);
  assert.equal(await store.delete("k1"), true);
  assert.equal(store.health(), "ok");
  assert.equal(inner.calls, 6);
  assert.deepEqual(lines, []);
  await store.close();
  assert.equal(inner.closed, true);
});

Deno.test("FailOpenStore: failing calls answer nothing, switch to degraded and warn once", async () => {
  const { inner, store, warnings } = setup();
  await store.put(newEntry("k1"));
  inner.down = true;
  const answers = await Promise.all([
    store.get("k1"),
    store.getStale("k1", 1000),
    store.inspect("k1"),
    store.similar({ path: "/v1/messages", model: undefined, namespace: "", limit: 5 }),
    store.list(),
    store.count(),
    store.bytes(),
    store.put(newEntry("k2")),
    store.delete("k1"),
    store.prune(Date.now()),
    Array.fromAsync(store.entries()),
  ]);
  assert.deepEqual(answers, [
    undefined,
    undefined,
    undefined,
    [],
    [],
    0,
    0,
    undefined,
    false,
    0,
    [],
  ]);
  assert.equal(store.health(), "degraded");
  assert.equal(warnings().length, 1);
  assert.match(warnings()[0]!, /ECONNREFUSED 127\.0\.0\.1:6379.*x-cache: BYPASS.*until it is back/);
  await store.close();
});

Deno.test("FailOpenStore does not touch the inner store while degraded", async () => {
  const { inner, store, warnings } = setup();
  inner.down = true;
  await store.get("k1");
  const before = inner.calls;
  for (let i = 0; i < 100; i++) {
    assert.equal(await store.get(`k${i}`), undefined);
    await store.put(newEntry(`k${i}`));
    await assert.rejects(store.addCounters(new Map([["x", 1]])), StoreUnavailableError);
    await assert.rejects(store.locks!.acquire("k", 1000), StoreUnavailableError);
  }
  assert.deepEqual(await Array.fromAsync(store.entries()), []);
  assert.equal(inner.calls, before);
  assert.equal(warnings().length, 1);
  await store.close();
});

Deno.test("FailOpenStore recovers when a probe reaches the store, and warns again at the next outage", async () => {
  let now = 1_000_000;
  const { inner, store, warnings, backs } = setup({ probeEveryMs: 5, now: () => now });
  inner.down = true;
  await store.get("k1");
  assert.equal(store.health(), "degraded");
  await waitFor(() => inner.pings >= 2); // probes keep failing while it is down
  assert.equal(store.health(), "degraded");
  now += 12_345;
  inner.down = false;
  await waitFor(() => store.health() === "ok");
  assert.equal(backs().length, 1);
  assert.match(backs()[0]!, /caching again after 12\.3 s/);
  await store.put(newEntry("k1"));
  assert.equal((await store.get("k1"))?.key, "k1");

  inner.down = true;
  await store.get("k1");
  assert.equal(store.health(), "degraded");
  assert.equal(warnings().length, 2);
  inner.down = false;
  await waitFor(() => store.health() === "ok");
  assert.equal(backs().length, 2);
  await store.close();
});

Deno.test("FailOpenStore.check() at start-up with the store down starts degraded", async (t) => {
  await t.step("down: degraded, one warning, calls answered at once", async () => {
    const { inner, store, warnings } = setup({ probeEveryMs: 5 });
    inner.down = true;
    assert.equal(await store.check(), "degraded");
    assert.equal(warnings().length, 1);
    assert.equal(await store.get("k"), undefined);
    assert.equal(inner.calls, 0);
    inner.down = false;
    await waitFor(() => store.health() === "ok");
    await store.close();
  });
  await t.step("up: ok and silent", async () => {
    const { store, lines } = setup();
    assert.equal(await store.check(), "ok");
    assert.deepEqual(lines, []);
    await store.close();
  });
  await t.step("a ping that never answers counts as down", async () => {
    const { inner, store, warnings } = setup({ probeEveryMs: 5, probeTimeoutMs: 20 });
    inner.pingHangs = true;
    assert.equal(await store.check(), "degraded");
    assert.match(warnings()[0]!, /no answer to a ping in 0\.0 s/);
    await waitFor(() => inner.pings >= 3); // a hanging probe does not stop the next ones
    inner.pingHangs = false;
    await waitFor(() => store.health() === "ok");
    await store.close();
  });
});

let seq = 0;
function hit(): CallEvent {
  return {
    seq: ++seq,
    time: new Date().toISOString(),
    kind: "HIT",
    model: "m",
    path: "/v1/messages",
    status: 200,
    bytes: 1,
    durationMs: 1,
    usage: { ...NO_USAGE, input_tokens: 5, output_tokens: 5 },
    dollars: 1,
    snippet: "",
    key: null,
  };
}

Deno.test("FailOpenStore.addCounters() rejects during an outage so the ledger keeps its counts", async () => {
  const { inner, store } = setup({ probeEveryMs: 5 });
  const ledger = await Ledger.open(store, { flushEveryMs: 60_000 });
  inner.down = true;
  ledger.record(hit());
  await assert.rejects(ledger.flush(), /ECONNREFUSED/); // the call that finds the outage
  ledger.record(hit());
  await assert.rejects(ledger.flush(), StoreUnavailableError); // later ones are not tried
  assert.equal(ledger.allTime().hits, 2);
  inner.down = false;
  await waitFor(() => store.health() === "ok");
  await ledger.flush();
  assert.equal((await inner.readCounters()).get("calls\tHIT\tm"), 2);
  assert.equal(ledger.allTime().hits, 2);
  await ledger.close();
  await store.close();
});

Deno.test("FailOpenStore: the history keeps its rows through an outage and shows what it counted", async () => {
  const { inner, store } = setup({ probeEveryMs: 5 });
  const history = new History(store, { flushEveryMs: 60_000 });
  inner.down = true;
  history.record(hit());
  await assert.rejects(history.flush(), /ECONNREFUSED/);
  history.record(hit());
  await assert.rejects(history.flush(), StoreUnavailableError);
  const during = await history.read("1h");
  assert.deepEqual(during.rows.map((r) => [r.kind, r.calls]), [["HIT", 2]], "counted, not stored");
  inner.down = false;
  await waitFor(() => store.health() === "ok");
  await history.flush();
  assert.deepEqual((await inner.readHistory("minute", 0)).map((r) => [r.kind, r.calls]), [[
    "HIT",
    2,
  ]]);
  assert.deepEqual((await history.read("1h")).rows.map((r) => r.calls), [2], "once, not twice");
  await history.close();
  await store.close();
});

Deno.test("FailOpenStore.readCounters() answers the counters last read while the store is down", async (t) => {
  await t.step("before any read: none, so the ledger opens", async () => {
    const { inner, store } = setup();
    inner.down = true;
    const ledger = await Ledger.open(store, { flushEveryMs: 60_000 });
    assert.equal(ledger.allTime().calls, 0);
    assert.equal(store.health(), "degraded");
    await ledger.close().catch(() => {});
    await store.close();
  });
  await t.step("after a read: those counters", async () => {
    const { inner, store } = setup();
    await store.addCounters(new Map([["calls\tHIT\tm", 3]]));
    const read = await store.readCounters();
    read.set("calls\tHIT\tm", 99); // the ledger adopts (and changes) the map it is given
    inner.down = true;
    assert.deepEqual(await store.readCounters(), new Map([["calls\tHIT\tm", 3]]));
    assert.deepEqual(await store.readCounters(), new Map([["calls\tHIT\tm", 3]]));
    await store.close();
  });
});

Deno.test("FailOpenStore.locks fail fast while degraded and let waiters go when an outage begins", async () => {
  const { inner, store } = setup();
  const locks = store.locks!;
  const held = await locks.acquire("k", 1000);
  assert.ok(held);
  const waiting = locks.follow("k", new AbortController().signal);
  inner.down = true;
  await assert.rejects(locks.acquire("j", 1000), /ECONNREFUSED/);
  assert.equal(store.health(), "degraded");
  assert.equal(await waiting, undefined); // would wait for the holder without the outage signal
  const calls = inner.calls;
  assert.equal(await locks.follow("k", new AbortController().signal), undefined);
  await held.release(); // resolves: the lock expires on its own
  await assert.rejects(held.extend(), StoreUnavailableError);
  assert.equal(inner.calls, calls);
  inner.released.get("k")?.resolve();
  await store.close();
});

Deno.test("FailOpenStore ignores a late failure of a call begun before the last recovery", async () => {
  const { inner, store, warnings } = setup({ probeEveryMs: 5 });
  inner.hold = Promise.withResolvers();
  const hold = inner.hold;
  const late = store.get("k"); // started while ok, answers after the outage
  inner.down = true;
  await store.get("k");
  inner.down = false;
  await waitFor(() => store.health() === "ok");
  inner.down = true;
  hold.resolve();
  assert.equal(await late, undefined);
  assert.equal(store.health(), "ok");
  assert.equal(warnings().length, 1);
  await store.close();
});

Deno.test("FailOpenStore.entries() rethrows a failure after some entries were yielded", async () => {
  const { inner, store } = setup();
  await store.put(newEntry("k1"));
  await store.put(newEntry("k2"));
  await assert.rejects(async () => {
    for await (const _ of store.entries()) inner.down = true;
  }, /ECONNREFUSED/);
  assert.equal(store.health(), "degraded");
  await store.close();
});

Deno.test("FailOpenStore.close() stops the probe", async () => {
  const { inner, store } = setup({ probeEveryMs: 2 });
  inner.down = true;
  await store.check();
  await waitFor(() => inner.pings >= 3);
  await store.close();
  assert.equal(inner.closed, true);
  const pings = inner.pings;
  // An absence has no condition to wait on: give a left-over probe 25 intervals to show up.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(inner.pings, pings);
});

Deno.test(
  "FailOpenStore over a real Redis: stopped mid-run, then started again",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    const lines: string[] = [];
    const log = createLogger("info", (line) => lines.push(line));
    await using store = new FailOpenStore(
      await RedisStore.open(redis.url, { maxEntries: 10 }),
      log,
      { probeEveryMs: 50 },
    );
    assert.equal(await store.check(), "ok");
    await store.put(newEntry("k1"));
    assert.equal((await store.get("k1"))?.key, "k1");

    await redis.stop();
    const started = Date.now();
    assert.equal(await store.get("k1"), undefined);
    await store.put(newEntry("k2"));
    assert.ok(Date.now() - started < 1000, "a call while Redis is down must not wait on it");
    assert.equal(store.health(), "degraded");
    assert.match(lines.join("\n"), /Cache store unreachable \(.*127\.0\.0\.1.*\)/);

    await redis.start(); // empty again: no persistence
    await waitFor(() => store.health() === "ok", 5000);
    await store.put(newEntry("k3"));
    assert.equal((await store.get("k3"))?.key, "k3");
    assert.equal(lines.filter((l) => l.includes("Cache store unreachable")).length, 1);
    assert.equal(lines.filter((l) => l.includes("Cache store is back")).length, 1);
  },
);

Deno.test(
  "FailOpenStore over a real Redis that is down at start-up",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await redis.stop();
    const lines: string[] = [];
    await using store = new FailOpenStore(
      await RedisStore.open(redis.url, { maxEntries: 10 }),
      createLogger("info", (line) => lines.push(line)),
      { probeEveryMs: 50 },
    );
    assert.equal(await store.check(), "degraded");
    assert.equal(await store.get("k1"), undefined);
    await redis.start();
    await waitFor(() => store.health() === "ok", 5000);
    await store.put(newEntry("k1"));
    assert.equal((await store.get("k1"))?.key, "k1");
  },
);
