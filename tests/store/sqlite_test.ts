import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
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
