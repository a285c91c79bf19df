import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openDatabase, prepareStatements } from "../../src/store/_sqlite_schema.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { NewEntry } from "../../src/store/store.ts";
import { newEntry } from "../support/entry.ts";

function entry(key: string, now: number, overrides: Partial<NewEntry> = {}): NewEntry {
  return newEntry(key, { createdAt: now, expiresAt: now + 60_000, ...overrides });
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

Deno.test("SqliteStore puts and gets the exact bytes and meta", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  const body = new Uint8Array([0, 255, 10, 13, 1]);
  await store.put(entry("k1", c.t, { body, contentType: "text/event-stream" }));
  const got = await store.get("k1");
  assert.deepEqual(got?.body, body);
  assert.equal(got?.contentType, "text/event-stream");
  assert.equal(got?.model, "claude-sonnet-4-5-20250929");
  assert.equal(await store.get("nope"), undefined);
  await store.close();
});

Deno.test("SqliteStore holds the TTL on read", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  await store.put(entry("k", c.t, { expiresAt: c.t + 1000 }));
  c.t += 999;
  assert.ok(await store.get("k"));
  c.t += 1;
  assert.equal(await store.get("k"), undefined, "expired at expiresAt");
  assert.equal(await store.count(), 1, "kept until pruned");
  assert.equal(await store.prune(c.t), 1);
  assert.equal(await store.count(), 0);
  await store.close();
});

Deno.test("SqliteStore resolves aliases and deletes them with their entry", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  await store.put(entry("exact", c.t), ["norm", "suffix"]);
  assert.equal((await store.get("norm"))?.key, "exact");
  assert.equal((await store.get("suffix"))?.key, "exact");
  assert.equal(await store.delete("exact"), true);
  assert.equal(await store.get("norm"), undefined);
  assert.equal(await store.delete("exact"), false);
  await store.close();
});

Deno.test("SqliteStore evicts the least recently hit entry beyond the cap", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 3, now: c.now });
  for (const key of ["a", "b", "c"]) {
    await store.put(entry(key, c.t));
    c.t += 10;
  }
  await store.get("a"); // a is now the most recently hit; b the least
  c.t += 10;
  await store.put(entry("d", c.t));
  assert.equal(await store.count(), 3);
  assert.equal(await store.get("b"), undefined, "b evicted");
  for (const key of ["a", "c", "d"]) assert.ok(await store.get(key), key);
  await store.close();
});

Deno.test("SqliteStore replaces an entry with the same key without growing", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 2, now: c.now });
  await store.put(entry("a", c.t));
  await store.put(entry("a", c.t, { body: new TextEncoder().encode("new") }));
  await store.put(entry("b", c.t));
  assert.equal(await store.count(), 2);
  assert.equal(new TextDecoder().decode((await store.get("a"))?.body), "new");
  await store.close();
});

Deno.test("SqliteStore lists summaries newest first, by key prefix", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  for (const key of ["aa1", "aa2", "bb1"]) {
    await store.put(entry(key, c.t));
    c.t += 1;
  }
  assert.deepEqual((await store.list()).map((e) => e.key), ["bb1", "aa2", "aa1"]);
  const listed = await store.list({ keyPrefix: "aa", limit: 1 });
  assert.deepEqual(listed.map((e) => [e.key, e.size]), [["aa2", 13]]);
  assert.ok(!("body" in listed[0]!));
  await store.close();
});

Deno.test("SqliteStore writes hit times in batches and on close", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const c = clock();
  const store = SqliteStore.open(path, { maxEntries: 10, now: c.now });
  await store.put(entry("k", c.t));
  c.t += 5000;
  await store.get("k");
  await store.get("k");
  await store.close();
  const reopened = SqliteStore.open(path, { maxEntries: 10, now: c.now });
  const [summary] = await reopened.list();
  assert.equal(summary?.hitCount, 2);
  assert.equal(summary?.lastHitAt, c.t);
  await reopened.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SqliteStore creates a private file in WAL mode and sees other writers' entries", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/home/cache.db`;
  const a = SqliteStore.open(path, { maxEntries: 10 });
  const b = SqliteStore.open(path, { maxEntries: 10 });
  await a.put(entry("k", Date.now()));
  assert.ok(await b.get("k"), "a second connection reads it");
  assert.equal(await b.count(), 1, "count follows other writers");
  await b.delete("k");
  assert.equal(await a.count(), 0);
  if (Deno.build.os !== "windows") {
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/home`)).mode! & 0o777, 0o700);
  }
  const db = new DatabaseSync(path);
  assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
  db.close();
  await a.close();
  await b.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SqliteStore's hot tier never serves what was evicted, deleted elsewhere or expired", async (t) => {
  await t.step("evicted while hot", async () => {
    const c = clock();
    const store = SqliteStore.open(":memory:", { maxEntries: 2, now: c.now });
    await store.put(entry("a", c.t));
    c.t += 1;
    assert.ok(await store.get("a"));
    await store.put(entry("b", c.t));
    c.t += 1;
    assert.ok(await store.get("b"));
    await store.put(entry("c", c.t));
    assert.equal(await store.get("a"), undefined, "a was the least recently hit");
    await store.close();
  });
  await t.step("deleted by another connection while hot", async () => {
    const dir = await Deno.makeTempDir();
    const a = SqliteStore.open(`${dir}/cache.db`, { maxEntries: 10 });
    const b = SqliteStore.open(`${dir}/cache.db`, { maxEntries: 10 });
    await a.put(entry("k", Date.now()), ["alias"]);
    assert.ok(await a.get("k"));
    assert.ok(await a.get("alias"));
    await b.delete("k");
    await new Promise((resolve) => setTimeout(resolve, 2)); // reads look at other writers once a ms
    assert.equal(await a.get("k"), undefined);
    assert.equal(await a.get("alias"), undefined);
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  });
  await t.step("replaced or deleted through this connection while hot", async () => {
    const c = clock();
    const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
    await store.put(entry("k", c.t), ["alias"]);
    assert.ok(await store.get("k"));
    assert.ok(await store.get("alias"));
    await store.put(entry("k", c.t, { body: new TextEncoder().encode("v2") }));
    assert.equal(new TextDecoder().decode((await store.get("k"))?.body), "v2");
    await store.delete("k");
    assert.equal(await store.get("k"), undefined);
    assert.equal(await store.get("alias"), undefined);
    await store.close();
  });
  await t.step("expired while hot", async () => {
    const c = clock();
    const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
    await store.put(entry("k", c.t, { expiresAt: c.t + 10 }));
    assert.ok(await store.get("k"));
    c.t += 10;
    assert.equal(await store.get("k"), undefined);
    await store.close();
  });
});

Deno.test("SqliteStore searches entries by model or snippet text, and totals their bytes", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  await store.put(entry("k1", c.t, { model: "claude-haiku-4-5", snippet: "Paris is the capital" }));
  await store.put(entry("k2", c.t, { model: "claude-opus-4-5", snippet: "Berlin" }));
  assert.deepEqual((await store.list({ query: "HAIKU" })).map((e) => e.key), ["k1"]);
  assert.deepEqual((await store.list({ query: "berlin" })).map((e) => e.key), ["k2"]);
  assert.deepEqual((await store.list({ query: "claude" })).length, 2);
  assert.equal(await store.bytes(), 2 * '{"key":"k1"}'.length);
  await store.delete("k1");
  assert.equal(await store.bytes(), '{"key":"k1"}'.length);
  await store.close();
});

Deno.test("SqliteStore keeps its entry count and bytes right when a put fails midway", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  await store.put(entry("a", c.t));
  const broken = { ...entry("b", c.t), body: undefined as unknown as Uint8Array };
  await assert.rejects(async () => await store.put(broken));
  assert.equal(await store.count(), 1);
  assert.equal(await store.bytes(), '{"key":"a"}'.length);
  await store.close();
});

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("SqliteStore round-trips namespace, chunk timing and request; lists them without bodies", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  const stored = entry("k", c.t, {
    namespace: "team-a",
    timing: [[120, 35], [480, 910]],
    request: new Uint8Array([123, 0, 255, 125]),
  });
  await store.put(stored);
  await store.put(entry("plain", c.t - 1));
  for (const [name, read] of [["get", store.get("k")], ["inspect", store.inspect("k")]] as const) {
    const got = await read;
    assert.equal(got?.namespace, "team-a", name);
    assert.deepEqual(got?.timing, [[120, 35], [480, 910]], name);
    assert.deepEqual(got?.request, stored.request, name);
  }
  const plain = await store.inspect("plain");
  assert.deepEqual([plain?.namespace, plain?.timing, plain?.request], ["", [], undefined]);
  const [summary] = await store.list({ limit: 1 });
  assert.equal(summary?.namespace, "team-a");
  assert.deepEqual(summary?.timing, [[120, 35], [480, 910]]);
  assert.ok(!("body" in summary!) && !("request" in summary!));
  await store.close();
});

Deno.test("SqliteStore.getStale() serves an entry until graceMs after it expired, by key or alias, as a hit", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const c = clock();
  const store = SqliteStore.open(path, { maxEntries: 10, now: c.now });
  await store.put(entry("k", c.t, { expiresAt: c.t + 1000 }), ["alias"]);
  assert.equal((await store.getStale("k", 500))?.key, "k", "fresh");
  c.t += 1000;
  assert.equal(await store.get("k"), undefined, "expired for get");
  assert.equal((await store.getStale("k", 500))?.key, "k", "just expired");
  c.t += 499;
  assert.equal((await store.getStale("alias", 500))?.key, "k", "by alias, within the grace");
  c.t += 1;
  assert.equal(await store.getStale("k", 500), undefined, "past the grace");
  assert.equal(await store.getStale("alias", 500), undefined);
  assert.equal(await store.getStale("nope", 500), undefined);
  await store.close();
  const reopened = SqliteStore.open(path, { maxEntries: 10, now: c.now });
  const [summary] = await reopened.list();
  assert.equal(summary?.hitCount, 3, "each stale read is a hit");
  assert.equal(summary?.lastHitAt, c.t - 1);
  await reopened.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SqliteStore.similar() finds stored requests of one path, model and namespace, newest first", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 20, now: c.now });
  const put = (key: string, overrides: Partial<NewEntry>) =>
    store.put(entry(key, c.t++, { request: bytes(key), ...overrides }));
  await put("old", { expiresAt: 0 }); // expired entries still explain a miss
  await put("mid", {});
  await put("new", {});
  await put("no-request", { request: undefined });
  await put("other-model", { model: "claude-haiku-4-5" });
  await put("other-path", { path: "/v1/messages/count_tokens" });
  await put("other-namespace", { namespace: "ci" });
  await put("no-model", { model: undefined });
  const similar = (query: Partial<Parameters<SqliteStore["similar"]>[0]>) =>
    store.similar({
      path: "/v1/messages",
      model: "claude-sonnet-4-5-20250929",
      namespace: "",
      limit: 10,
      ...query,
    });
  const found = await similar({});
  assert.deepEqual(found.map((s) => s.key), ["new", "mid", "old"]);
  assert.deepEqual(found[0]?.request, bytes("new"));
  assert.equal(found[0]?.createdAt, c.t - 6);
  assert.deepEqual(found[0] && Object.keys(found[0]).sort(), ["createdAt", "key", "request"]);
  assert.deepEqual((await similar({ limit: 2 })).map((s) => s.key), ["new", "mid"]);
  assert.deepEqual((await similar({ model: undefined })).map((s) => s.key), ["no-model"]);
  assert.deepEqual((await similar({ namespace: "ci" })).map((s) => s.key), ["other-namespace"]);
  assert.deepEqual(await similar({ path: "/v1/complete" }), []);
  await store.close();
});

Deno.test("SqliteStore.similar() is served by an index, whatever the model", () => {
  const db = openDatabase(":memory:");
  const sql = prepareStatements(db);
  for (const model of ["claude-sonnet-4-5", null]) {
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql.similar.sourceSQL}`)
      .all("/v1/messages", model, "", 5).map((row) => String(row.detail)).join("\n");
    assert.match(plan, /USING INDEX entries_similar \(path=\? AND model=\? AND namespace=\?\)/);
    assert.doesNotMatch(plan, /TEMP B-TREE/, "rows come out in order");
  }
  db.close();
});

Deno.test("SqliteStore.entries() walks every entry with its aliases, newest first, a page at a time", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 1000, now: c.now });
  const expected: string[] = [];
  // 150 entries, in runs of three sharing a creation time: pages must break ties by key.
  for (let i = 0; i < 150; i++) {
    const key = `k${String(i).padStart(3, "0")}`;
    await store.put(entry(key, c.t + Math.floor(i / 3), { expiresAt: 0 }), [`${key}-alias`]);
    expected.unshift(key);
  }
  const seen: string[] = [];
  for await (const stored of store.entries()) {
    assert.deepEqual(stored.aliases, [`${stored.key}-alias`]);
    assert.deepEqual(stored.body, bytes(`{"key":"${stored.key}"}`));
    seen.push(stored.key);
  }
  assert.deepEqual(seen, expected, "each once, newest first, expired ones included");
  await store.close();
});

Deno.test("SqliteStore.entries() skips what is deleted and leaves out what is added during the walk", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  for (const [i, key] of ["a", "b", "c", "d"].entries()) await store.put(entry(key, c.t + i));
  const seen: string[] = [];
  for await (const stored of store.entries()) {
    seen.push(stored.key);
    if (stored.key === "d") {
      await store.delete("b");
      await store.put(entry("newer", c.t + 10));
      await store.put(entry("c", c.t + 2, { body: bytes("c2") })); // replaced, same time
    }
    if (stored.key === "c") assert.deepEqual(stored.body, bytes("c2"));
  }
  assert.deepEqual(seen, ["d", "c", "a"]);
  await store.close();
});

Deno.test("SqliteStore.entries() filters by namespace and creation time", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  await store.put(entry("a", c.t));
  await store.put(entry("b", c.t + 10, { namespace: "ci" }));
  await store.put(entry("c", c.t + 20));
  await store.put(entry("d", c.t + 30, { namespace: "ci" }));
  const keys = async (options?: Parameters<SqliteStore["entries"]>[0]) =>
    (await Array.fromAsync(store.entries(options))).map((e) => e.key);
  assert.deepEqual(await keys(), ["d", "c", "b", "a"]);
  assert.deepEqual(await keys({ namespace: "ci" }), ["d", "b"]);
  assert.deepEqual(await keys({ namespace: "" }), ["c", "a"]);
  assert.deepEqual(await keys({ since: c.t + 10 }), ["d", "c", "b"], "since is inclusive");
  assert.deepEqual(await keys({ namespace: "ci", since: c.t + 11 }), ["d"]);
  await store.close();
});

Deno.test("SqliteStore opens a file made before namespaces, timing and requests, and adds them", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const old = new DatabaseSync(path);
  // The first schema: before usage, snippet, namespace, timing and request.
  old.exec(`CREATE TABLE entries (key TEXT PRIMARY KEY, status INTEGER NOT NULL,
    content_type TEXT NOT NULL, model TEXT, path TEXT NOT NULL, created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, last_hit_at INTEGER NOT NULL,
    hit_count INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL, body BLOB NOT NULL);
    CREATE TABLE aliases (alias TEXT PRIMARY KEY, key TEXT NOT NULL);`);
  old.prepare(
    "INSERT INTO entries VALUES ('old', 200, 'application/json', 'm', '/v1/messages', " +
      "1, 9e15, 1, 0, 2, x'7b7d')",
  ).run();
  old.close();
  const store = SqliteStore.open(path, { maxEntries: 10 });
  const got = await store.get("old");
  assert.deepEqual(
    [got?.namespace, got?.timing, got?.request, got?.snippet, got?.body],
    ["", [], undefined, "", bytes("{}")],
  );
  await store.put(
    entry("new", Date.now(), { namespace: "x", timing: [[1, 2]], request: bytes("q") }),
  );
  assert.deepEqual((await store.inspect("new"))?.timing, [[1, 2]]);
  assert.deepEqual(
    (await store.similar({
      path: "/v1/messages",
      model: "claude-sonnet-4-5-20250929",
      namespace: "x",
      limit: 1,
    })).map((s) => s.key),
    ["new"],
  );
  await store.close();
  const db = new DatabaseSync(path);
  const indexes = db.prepare("PRAGMA index_list(entries)").all().map((row) => String(row.name));
  assert.ok(indexes.includes("entries_similar"), indexes.join(", "));
  db.close();
  await Deno.remove(dir, { recursive: true });
});
