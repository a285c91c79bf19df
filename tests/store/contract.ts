/**
 * What every {@link CacheStore} backend must do, as one suite of `Deno.test`
 * cases that `contract_test.ts` registers for each backend. A backend-only
 * behaviour (SQLite's hot tier, Redis TTLs) belongs in that backend's own test file.
 *
 * @module
 */
import assert from "node:assert/strict";
import { NO_USAGE } from "../../src/values/usage.ts";
import type { CallKind } from "../../src/values/call_kind.ts";
import { latencyBucket } from "../../src/stats/history_row.ts";
import { emptyRow, type HistoryRow, type Resolution } from "../../src/values/history_row.ts";
import type { CachedAnswer, CacheEntry, CacheStore, NewEntry } from "../../src/store/store.ts";
import { newEntry } from "../support/entry.ts";

/** Where a test's stores live: a fresh, empty backend that every `open()` shares. */
export interface StoreBackend extends AsyncDisposable {
  /** Opens one more store instance on this backend. */
  open(options: { maxEntries: number; now: () => number }): Promise<CacheStore>;
}

/** The stores one test opened, on one fresh backend, and the clock they share. */
interface Harness {
  readonly clock: { t: number; readonly now: () => number };
  /** Opens a store instance on the test's backend. @default maxEntries 10 */
  open(maxEntries?: number): Promise<CacheStore>;
  /** Closes `store` and opens another instance on the same data. */
  reopen(store: CacheStore, maxEntries?: number): Promise<CacheStore>;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => new TextDecoder().decode(data);

function entry(key: string, now: number, overrides: Partial<NewEntry> = {}): NewEntry {
  return newEntry(key, { createdAt: now, expiresAt: now + 60_000, ...overrides });
}

/** What a read returns for a stored entry that was never hit. */
function asRead(stored: NewEntry): CacheEntry {
  return { ...stored, lastHitAt: stored.createdAt, hitCount: 0 };
}

/** What `get()` returns of a stored entry: its answer, without request, hit time or count. */
function answerOf(stored: NewEntry): CachedAnswer {
  const { request: _request, ...answer } = stored;
  return answer;
}

/**
 * Registers the store contract as `Deno.test` cases named `<name>: …`.
 *
 * @param name the backend's name, e.g. "SqliteStore"
 * @param backend makes a fresh, empty backend for one test; disposed after it
 * @param options `ignore`: register the cases as ignored (the backend's server is missing)
 */
export function storeContract(
  name: string,
  backend: () => Promise<StoreBackend>,
  options: { readonly ignore?: boolean } = {},
): void {
  const test = (title: string, fn: (h: Harness) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, { ignore: options.ignore ?? false }, async () => {
      await using where = await backend();
      const open = new Set<CacheStore>();
      const clock = { t: Date.now(), now: () => clock.t };
      const harness: Harness = {
        clock,
        async open(maxEntries = 10) {
          const store = await where.open({ maxEntries, now: clock.now });
          open.add(store);
          return store;
        },
        async reopen(store, maxEntries) {
          open.delete(store);
          await store.close();
          return await harness.open(maxEntries);
        },
      };
      try {
        await fn(harness);
      } finally {
        for (const store of open) await store.close();
      }
    });
  for (const [title, fn] of Object.entries(CASES)) test(title, fn);
}

const CASES: Record<string, (h: Harness) => Promise<void>> = {
  async "get() and inspect() return the exact bytes and every field"({ clock: c, open }) {
    const store = await open();
    const stored = entry("k1", c.t, {
      body: new Uint8Array([0, 255, 10, 13, 1, 0]),
      contentType: "text/event-stream",
      namespace: "team-a",
      timing: [[120, 35], [480, 910]],
      request: new Uint8Array([123, 0, 255, 125]),
      usage: { ...NO_USAGE, input_tokens: 11, cache_read_input_tokens: 7, output_tokens: 5 },
      snippet: 'Grüße ✓ "quoted"\nline',
    });
    const plain = entry("plain", c.t - 1, { model: undefined, path: "/v1/messages/count_tokens" });
    await store.put(stored);
    await store.put(plain);
    assert.deepEqual(await store.inspect("k1"), asRead(stored));
    // Exactly the answer: a hit reads neither the request nor the hit counts.
    assert.deepEqual(await store.get("k1"), answerOf(stored));
    assert.deepEqual(await store.get("plain"), answerOf(plain), "no model or timing");
    assert.equal(await store.get("nope"), undefined);
    assert.equal(await store.inspect("nope"), undefined);
  },

  async "an alias leads to its entry; delete() removes the entry with its aliases"(h) {
    const store = await h.open();
    await store.put(entry("exact", h.clock.t), ["norm", "suffix"]);
    assert.equal((await store.get("norm"))?.key, "exact");
    assert.equal((await store.get("suffix"))?.key, "exact");
    assert.equal(await store.inspect("norm"), undefined, "inspect() takes exact keys only");
    await store.put(entry("other", h.clock.t), ["suffix"]);
    assert.equal((await store.get("suffix"))?.key, "other", "a newer entry takes the alias");
    assert.equal(await store.delete("exact"), true);
    assert.equal(await store.get("exact"), undefined);
    assert.equal(await store.get("norm"), undefined);
    assert.equal((await store.get("suffix"))?.key, "other", "the alias it lost stays");
    assert.equal(await store.delete("exact"), false);
    await store.put(entry("exact", h.clock.t));
    assert.equal(await store.get("norm"), undefined, "a deleted alias does not come back");
    assert.equal(await store.delete("other"), true);
    assert.equal(await store.get("suffix"), undefined);
    assert.equal(await store.count(), 1);
  },

  async "get() misses from expiresAt on, getStale() serves within its grace, prune() removes"(h) {
    const c = h.clock;
    const store = await h.open();
    const expiresAt = c.t + 1000;
    await store.put(entry("k", c.t, { expiresAt }), ["alias"]);
    assert.equal((await store.getStale("k", 500))?.key, "k", "fresh");
    c.t += 999;
    assert.ok(await store.get("k"));
    assert.ok(await store.get("alias"));
    c.t += 1;
    assert.equal(await store.get("k"), undefined, "expired at expiresAt");
    assert.equal(await store.get("alias"), undefined);
    assert.equal((await store.getStale("k", 500))?.key, "k", "just expired");
    c.t += 499;
    assert.equal((await store.getStale("alias", 500))?.key, "k", "by alias, within the grace");
    c.t += 1;
    assert.equal(await store.getStale("k", 500), undefined, "past the grace");
    assert.equal(await store.getStale("alias", 500), undefined);
    assert.equal(await store.getStale("nope", 500), undefined);
    assert.equal(await store.count(), 1, "kept until pruned");
    assert.equal(await store.prune(expiresAt - 1), 0);
    assert.equal(await store.prune(expiresAt), 1, "expired at or before olderThan");
    assert.deepEqual([await store.count(), await store.bytes()], [0, 0]);
    assert.equal(await store.inspect("k"), undefined);
    assert.equal(await store.getStale("alias", 10_000), undefined);
  },

  async "counts each hit and its time, by key, alias or stale read"(h) {
    const c = h.clock;
    let store = await h.open();
    await store.put(entry("k", c.t, { expiresAt: c.t + 1000 }), ["alias"]);
    c.t += 500;
    await store.get("k");
    c.t += 10;
    await store.get("alias");
    c.t += 1000;
    await store.getStale("k", 60_000);
    store = await h.reopen(store);
    const [summary] = await store.list();
    assert.deepEqual([summary?.hitCount, summary?.lastHitAt], [3, c.t]);
    const inspected = await store.inspect("k");
    assert.deepEqual([inspected?.hitCount, inspected?.lastHitAt], [3, c.t]);
  },

  async "list(), inspect() and entries() count hits at once, before they are written"(h) {
    const c = h.clock;
    const store = await h.open();
    await store.put(entry("k", c.t));
    c.t += 100;
    await store.get("k");
    c.t += 100;
    await store.get("k");
    const [summary] = await store.list();
    assert.deepEqual([summary?.hitCount, summary?.lastHitAt], [2, c.t]);
    const inspected = await store.inspect("k");
    assert.deepEqual([inspected?.hitCount, inspected?.lastHitAt], [2, c.t]);
    const walked = [];
    for await (const e of store.entries()) walked.push([e.hitCount, e.lastHitAt]);
    assert.deepEqual(walked, [[2, c.t]]);
  },

  async "evicts the least recently hit entry beyond the cap, with its aliases"(h) {
    const c = h.clock;
    const t0 = c.t;
    const store = await h.open(3);
    await store.put(entry("a", t0));
    await store.put(entry("b", t0 + 10), ["b-alias"]);
    await store.put(entry("c", t0 + 20));
    c.t = t0 + 30;
    assert.ok(await store.get("a"), "a, created first, is now the most recently hit");
    c.t = t0 + 40;
    await store.put(entry("d", c.t));
    assert.equal(await store.inspect("b"), undefined, "b evicted: least recently hit");
    assert.equal(await store.get("b-alias"), undefined, "with its alias");
    c.t = t0 + 50;
    assert.ok(await store.get("c"));
    c.t = t0 + 60;
    await store.put(entry("e", c.t));
    assert.equal(await store.inspect("a"), undefined, "then a");
    for (const key of ["c", "d", "e"]) assert.ok(await store.inspect(key), key);
    assert.deepEqual([await store.count(), await store.bytes()], [3, 3 * '{"key":"a"}'.length]);
  },

  async "never evicts the entry it just stored, however old its times"(h) {
    const store = await h.open(2);
    await store.put(entry("a", h.clock.t));
    await store.put(entry("b", h.clock.t + 10));
    await store.put(entry("imported", h.clock.t - 60_000));
    assert.ok(await store.inspect("imported"));
    assert.equal(await store.inspect("a"), undefined);
    assert.ok(await store.inspect("b"));
  },

  async "replacing an entry keeps one copy, its aliases and a right byte total"(h) {
    const store = await h.open(2);
    await store.put(entry("a", h.clock.t, { body: bytes("abc") }), ["a-alias"]);
    await store.put(entry("b", h.clock.t, { body: bytes("12345") }));
    assert.deepEqual([await store.count(), await store.bytes()], [2, 8]);
    await store.put(entry("a", h.clock.t + 1, { body: bytes("0123456789") }));
    assert.deepEqual([await store.count(), await store.bytes()], [2, 15]);
    assert.equal(text((await store.get("a"))?.body), "0123456789");
    assert.equal(text((await store.get("a-alias"))?.body), "0123456789", "the alias stays");
    assert.equal(await store.delete("b"), true);
    assert.deepEqual([await store.count(), await store.bytes()], [1, 10]);
  },

  async "list() pages summaries newest first, by key prefix and text, expired ones included"(h) {
    const c = h.clock;
    const store = await h.open();
    const aa1 = entry("aa1", c.t, { model: "claude-haiku-4-5", snippet: "Paris is the capital" });
    await store.put(aa1);
    await store.put(entry("aa2", c.t + 1, { model: "claude-opus-4-5", snippet: "Berlin" }));
    await store.put(entry("bb1", c.t + 2, { expiresAt: c.t - 1, namespace: "ci" }));
    const keys = async (options?: Parameters<CacheStore["list"]>[0]) =>
      (await store.list(options)).map((e) => e.key);
    assert.deepEqual(await keys(), ["bb1", "aa2", "aa1"]);
    assert.deepEqual(await keys({ limit: 2 }), ["bb1", "aa2"]);
    assert.deepEqual(await keys({ limit: 2, offset: 2 }), ["aa1"]);
    assert.deepEqual(await keys({ offset: 3 }), []);
    assert.deepEqual(await keys({ keyPrefix: "aa", limit: 1 }), ["aa2"]);
    assert.deepEqual(await keys({ keyPrefix: "aa", offset: 1 }), ["aa1"]);
    assert.deepEqual(await keys({ query: "HAIKU" }), ["aa1"]);
    assert.deepEqual(await keys({ query: "berlin" }), ["aa2"]);
    assert.deepEqual(await keys({ query: "claude" }), ["bb1", "aa2", "aa1"]);
    assert.deepEqual(await keys({ query: "claude", keyPrefix: "b" }), ["bb1"]);
    assert.deepEqual(await keys({ query: "claude", offset: 1, limit: 1 }), ["aa2"]);
    const { body: _body, request: _request, ...meta } = asRead(aa1);
    assert.deepEqual(await store.list({ query: "paris" }), [{ ...meta, size: aa1.body.length }]);
  },

  async "similar() finds stored requests of one path, model and namespace, newest first"(h) {
    const c = h.clock;
    const store = await h.open(20);
    const put = (key: string, overrides: Partial<NewEntry>) =>
      store.put(entry(key, c.t++, { request: bytes(key), ...overrides }));
    await put("old", { expiresAt: c.t - 3_600_000 }); // expired entries still explain a miss
    await put("mid", {});
    await put("new", {});
    await put("no-request", { request: undefined });
    await put("other-model", { model: "claude-haiku-4-5" });
    await put("other-path", { path: "/v1/messages/count_tokens" });
    await put("other-namespace", { namespace: "ci" });
    await put("no-model", { model: undefined });
    const similar = (query: Partial<Parameters<CacheStore["similar"]>[0]>) =>
      store.similar({
        path: "/v1/messages",
        model: "claude-sonnet-4-5-20250929",
        namespace: "",
        limit: 10,
        ...query,
      });
    const found = await similar({});
    assert.deepEqual(found.map((s) => s.key), ["new", "mid", "old"]);
    assert.deepEqual(found[0], { key: "new", request: bytes("new"), createdAt: c.t - 6 });
    assert.deepEqual((await similar({ limit: 2 })).map((s) => s.key), ["new", "mid"]);
    assert.deepEqual((await similar({ model: undefined })).map((s) => s.key), ["no-model"]);
    assert.deepEqual((await similar({ namespace: "ci" })).map((s) => s.key), ["other-namespace"]);
    assert.deepEqual(await similar({ path: "/v1/complete" }), []);
    await store.delete("new");
    await store.put(entry("mid", c.t, { request: undefined }));
    assert.deepEqual((await similar({})).map((s) => s.key), ["old"], "deleted or replaced");
  },

  async "similar() leaves out stored requests longer than maxRequestBytes"(h) {
    const c = h.clock;
    const store = await h.open(20);
    const sized = (key: string, size: number) =>
      store.put(entry(key, c.t++, { request: new Uint8Array(size).fill(123) }));
    await sized("small", 10);
    await sized("huge", 5_000);
    await sized("exact", 100);
    const keys = async (maxRequestBytes?: number) =>
      (await store.similar({
        path: "/v1/messages",
        model: "claude-sonnet-4-5-20250929",
        namespace: "",
        limit: 10,
        ...(maxRequestBytes === undefined ? {} : { maxRequestBytes }),
      })).map((s) => s.key);
    assert.deepEqual(await keys(), ["exact", "huge", "small"]);
    assert.deepEqual(await keys(100), ["exact", "small"]);
    assert.deepEqual(await keys(99), ["small"]);
  },

  async "entries() walks every entry once with its aliases, newest first, ties by key"(h) {
    const c = h.clock;
    const store = await h.open(1000);
    const expected: string[] = [];
    // Runs of three sharing a creation time, more than a page: pages must break ties.
    for (let i = 0; i < 260; i++) {
      const key = `k${String(i).padStart(3, "0")}`;
      const expiresAt = i % 2 ? c.t - 1 : c.t + 60_000; // expired ones too
      await store.put(entry(key, c.t + Math.floor(i / 3), { expiresAt }), [`${key}-b`, `${key}-a`]);
      expected.unshift(key);
    }
    const seen: string[] = [];
    for await (const stored of store.entries()) {
      assert.deepEqual([...stored.aliases].sort(), [`${stored.key}-a`, `${stored.key}-b`]);
      assert.deepEqual(stored.body, bytes(`{"key":"${stored.key}"}`));
      seen.push(stored.key);
    }
    assert.deepEqual(seen, expected);
  },

  async "entries() skips what is deleted and leaves out what is added during the walk"(h) {
    const store = await h.open();
    const t = h.clock.t;
    for (const [i, key] of ["a", "b", "c", "d"].entries()) await store.put(entry(key, t + i));
    const seen: string[] = [];
    for await (const stored of store.entries()) {
      seen.push(stored.key);
      if (stored.key === "d") {
        await store.delete("b");
        await store.put(entry("newer", t + 10));
        await store.put(entry("c", t + 2, { body: bytes("c2") })); // replaced, same time
      }
      if (stored.key === "c") assert.deepEqual(stored.body, bytes("c2"));
    }
    assert.deepEqual(seen, ["d", "c", "a"]);
  },

  async "entries() filters by namespace and creation time"(h) {
    const store = await h.open();
    const t = h.clock.t;
    await store.put(entry("a", t));
    await store.put(entry("b", t + 10, { namespace: "ci" }));
    await store.put(entry("c", t + 20));
    await store.put(entry("d", t + 30, { namespace: "ci" }));
    const keys = async (options?: Parameters<CacheStore["entries"]>[0]) =>
      (await Array.fromAsync(store.entries(options))).map((e) => e.key);
    assert.deepEqual(await keys(), ["d", "c", "b", "a"]);
    assert.deepEqual(await keys({ namespace: "ci" }), ["d", "b"]);
    assert.deepEqual(await keys({ namespace: "" }), ["c", "a"]);
    assert.deepEqual(await keys({ since: t + 10 }), ["d", "c", "b"], "since is inclusive");
    assert.deepEqual(await keys({ namespace: "ci", since: t + 11 }), ["d"]);
  },

  async "counters added concurrently by two instances add up"(h) {
    const [a, b] = [await h.open(), await h.open()];
    await a.addCounters(new Map());
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          (i % 2 ? a : b).addCounters(new Map([["calls", 1], ["usd", 0.25], [`m${i % 3}`, 2]])),
      ),
    );
    const expected = new Map([["calls", 20], ["usd", 5], ["m0", 14], ["m1", 14], ["m2", 12]]);
    assert.deepEqual(await a.readCounters(), expected);
    assert.deepEqual(await b.readCounters(), expected);
  },

  async "history rows added by two instances add up, outlive a reopen, and old ones go"(h) {
    const [a, b] = [await h.open(), await h.open()];
    const minute = Math.floor(h.clock.t / 60_000) * 60_000;
    const hour = Math.floor(h.clock.t / 3_600_000) * 3_600_000;
    const keep = { minute: h.clock.t - 25 * 3_600_000, hour: h.clock.t - 31 * 86_400_000 };
    const row = (resolution: Resolution, start: number, kind: CallKind, ns = "") => {
      const r = emptyRow(resolution, start, kind, "claude-x\tmodel", ns);
      Object.assign(r, { calls: 1, tokens: 10, usd: 0.25, ms: 3.5 });
      r.latency[latencyBucket(3.5)] = 1;
      return r;
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? a : b).addHistory([
        row("minute", minute, i % 4 ? "HIT" : "MISS"),
        row("hour", hour, i % 4 ? "HIT" : "MISS", "team"),
      ], keep)));
    const old = [
      row("minute", minute - 2 * 86_400_000, "HIT"),
      row("hour", hour - 40 * 86_400_000, "HIT"),
    ];
    await a.addHistory(old, keep);
    const sorted = (rows: HistoryRow[]) => rows.sort((x, y) => x.kind < y.kind ? -1 : 1);
    const expected = (resolution: Resolution, start: number, ns: string) =>
      [
        { ...row(resolution, start, "HIT", ns), calls: 15, tokens: 150, usd: 3.75, ms: 52.5 },
        { ...row(resolution, start, "MISS", ns), calls: 5, tokens: 50, usd: 1.25, ms: 17.5 },
      ].map((r) => ({ ...r, latency: r.latency.map((n) => n * r.calls) }));
    const reopened = await h.reopen(a);
    for (const store of [reopened, b]) {
      assert.deepEqual(
        sorted(await store.readHistory("minute", 0)),
        expected("minute", minute, ""),
      );
      assert.deepEqual(sorted(await store.readHistory("hour", 0)), expected("hour", hour, "team"));
      assert.deepEqual(await store.readHistory("minute", minute + 60_000), [], "none after since");
    }
  },

  async "puts racing from two instances never tear an entry or an alias"(h) {
    const [a, b] = [await h.open(8), await h.open(8)];
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    const version = (key: string, v: number, i: number) =>
      entry(key, h.clock.t + v, {
        body: bytes(JSON.stringify({ key, v, pad: "x".repeat(i * 40) })),
        snippet: `${key} v${v}`,
        request: bytes(`${key} v${v}`),
      });
    const whole = (got: CachedAnswer | CacheEntry) => {
      const body = JSON.parse(text(got.body));
      assert.equal(body.key, got.key);
      assert.equal(got.snippet, `${got.key} v${body.v}`, "meta of the same put as the body");
      if ("request" in got) assert.equal(text(got.request), got.snippet);
    };
    const aliases = ["shared", "g0", "g1", "g2"];
    const puts = [0, 1, 2].flatMap((v) =>
      keys.map((key, i) =>
        ((i + v) % 2 ? a : b).put(version(key, v, i), ["shared", `g${i % 3}`, `own-${key}`])
      )
    );
    const reads = Array.from({ length: 40 }, async (_, i) => {
      const got = await (i % 2 ? a : b).get(aliases[i % aliases.length]!);
      if (got) whole(got);
    });
    await Promise.all([...puts, ...reads]);
    const listed = await a.list();
    assert.equal(await b.count(), listed.length);
    assert.ok(listed.length <= 8, `${listed.length} entries beyond the cap of 8`);
    assert.equal(await b.bytes(), listed.reduce((sum, e) => sum + e.size, 0));
    for (const summary of listed) {
      const got = await a.inspect(summary.key);
      assert.ok(got);
      whole(got);
      assert.equal(got.body.length, summary.size);
    }
    const shared = await b.get("shared");
    assert.ok(shared, "the last put's alias leads somewhere");
    whole(shared);
    for (const key of keys) {
      const held = listed.some((e) => e.key === key);
      assert.equal((await b.get(`own-${key}`))?.key, held ? key : undefined, key);
    }
  },

  async "a 5 MB body comes back byte-exact"(h) {
    const store = await h.open();
    const body = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7919 + (i >>> 13)) & 0xff;
    await store.put(entry("big", h.clock.t, { body, request: body.subarray(0, 1000) }), ["alias"]);
    for (const read of [() => store.get("alias"), () => store.inspect("big")]) {
      const got = await read();
      assert.ok(got);
      assert.equal(got.body.length, body.length);
      assert.ok(sameBytes(got.body, body), "byte-exact");
    }
    const request = (await store.inspect("big"))?.request;
    assert.ok(request && sameBytes(request, body.subarray(0, 1000)));
    assert.equal(await store.bytes(), body.length);
    assert.equal((await store.list())[0]?.size, body.length);
  },
};

/** Compares without node:assert, which is slow on megabytes. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
