// What every store does is tested for SQLite and Redis alike in contract.ts (run by
// contract_test.ts); this file keeps what only SQLite does: the file, batching, the hot tier.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openDatabase, prepareStatements } from "../../src/store/_sqlite_schema.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { NewEntry } from "../../src/store/store.ts";
import { newEntry } from "../support/entry.ts";
import { tempHome } from "../support/harness.ts";

function entry(key: string, now: number, overrides: Partial<NewEntry> = {}): NewEntry {
  return newEntry(key, { createdAt: now, expiresAt: now + 60_000, ...overrides });
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

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

Deno.test("SqliteStore writes many pending hit times in slices, one transaction each", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const c = clock();
  const store = SqliteStore.open(path, { maxEntries: 10_000, now: c.now, flushEveryMs: 5 });
  const n = 1_200;
  for (let i = 0; i < n; i++) await store.put(entry(`k${i}`, c.t));
  for (let i = 0; i < n; i++) await store.get(`k${i}`);
  const reader = new DatabaseSync(path, { readOnly: true });
  const count = reader.prepare("SELECT count(*) AS n FROM hits WHERE hit_count > 0");
  const steps: number[] = [];
  for (let seen = 0; seen < n;) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const written = Number(count.get()?.n);
    if (written > seen) steps.push(written - seen);
    seen = written;
  }
  assert.ok(steps.length >= 3, `written in steps of ${steps.join(", ")}`);
  reader.close();
  await store.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SqliteStore's count and bytes come from totals kept by triggers, whoever writes", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const c = clock();
  const store = SqliteStore.open(path, { maxEntries: 3, now: c.now });
  await store.put(entry("a", c.t++, { body: new Uint8Array(10) }));
  await store.put(entry("a", c.t++, { body: new Uint8Array(30) }), ["a-alias"]); // replaced
  await store.put(entry("b", c.t++, { body: new Uint8Array(5) }));
  await store.put(entry("c", c.t++, { body: new Uint8Array(7) }));
  await store.put(entry("d", c.t++, { body: new Uint8Array(1) })); // evicts one
  await store.delete("b");
  const other = new DatabaseSync(path);
  other.prepare(
    "INSERT INTO entries (key, status, content_type, path, created_at, expires_at, " +
      "last_hit_at, size, body) VALUES ('raw', 200, 'x', '/v1/messages', 1, 9e15, 1, 4, x'00')",
  ).run();
  const scanned = other.prepare("SELECT count(*) AS n, sum(size) AS bytes FROM entries").get();
  const plan = (sql: string) =>
    other.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail)).join("\n");
  assert.doesNotMatch(plan(prepareStatements(other).count.sourceSQL), /entries/);
  other.close();
  assert.deepEqual([await store.count(), await store.bytes()], [scanned?.n, scanned?.bytes]);
  await store.close();
  const reopened = SqliteStore.open(path, { maxEntries: 3 });
  assert.deepEqual([await reopened.count(), await reopened.bytes()], [3, 12]);
  await reopened.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SqliteStore writes a steady stream of hits once per flush, not on every turn", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const store = SqliteStore.open(path, { maxEntries: 10, flushEveryMs: 40 });
  await store.put(entry("k", Date.now()));
  const other = new DatabaseSync(path);
  other.exec(
    "CREATE TABLE touches (n INTEGER); " +
      "CREATE TRIGGER counted AFTER UPDATE ON hits BEGIN INSERT INTO touches VALUES (1); END;",
  );
  const until = performance.now() + 200; // about five flush ticks
  while (performance.now() < until) {
    await store.get("k");
    await new Promise((resolve) => setImmediate(resolve));
  }
  const writes = Number(other.prepare("SELECT count(*) AS n FROM touches").get()?.n);
  assert.ok(writes >= 2 && writes <= 8, `${writes} writes of one key's hit time`);
  other.close();
  await store.close();
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

Deno.test("SqliteStore writes the puts of one turn together, each with its own outcome", async () => {
  const c = clock();
  const store = SqliteStore.open(":memory:", { maxEntries: 10, now: c.now });
  const broken = { ...entry("b", c.t), body: undefined as unknown as Uint8Array };
  const outcomes = await Promise.allSettled([
    store.put(entry("a", c.t)),
    store.put(broken),
    store.put(entry("c", c.t)),
  ]);
  assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(await store.count(), 2);
  assert.ok(await store.get("a"));
  assert.ok(await store.get("c"));
  await store.close();
});

Deno.test("SqliteStore applies a queued put before any later call, whatever it is", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/cache.db`;
  const c = clock();
  const store = SqliteStore.open(path, { maxEntries: 10, now: c.now });
  const putA = store.put(entry("a", c.t));
  assert.ok(await store.get("a"), "a get right after the put finds it");
  await putA;
  const putB = store.put(entry("b", c.t));
  assert.equal(await store.delete("b"), true, "a delete right after the put removes it");
  await putB;
  assert.equal(await store.get("b"), undefined);
  const putC = store.put(entry("c", c.t));
  await store.close(); // before the put's turn ends: close writes it
  await putC;
  const reopened = SqliteStore.open(path, { maxEntries: 10, now: c.now });
  assert.deepEqual((await reopened.list()).map((e) => e.key).sort(), ["a", "c"]);
  await reopened.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SqliteStore's eviction writes the pending hits it meets to find the least recent", async () => {
  await using home = await tempHome();
  const path = `${home.path}/cache.db`;
  const c = clock();
  const store = SqliteStore.open(path, { maxEntries: 100, now: c.now, flushEveryMs: 3_600_000 });
  const t0 = c.t;
  for (let i = 0; i < 100; i++) await store.put(entry(`k${i}`, t0 + i));
  c.t = t0 + 1000;
  for (let i = 0; i < 100; i++) if (i !== 50) await store.get(`k${i}`);
  await store.put(entry("new", c.t));
  assert.equal(await store.inspect("k50"), undefined, "the one entry not hit since");
  assert.equal(await store.count(), 100);
  const reader = new DatabaseSync(path, { readOnly: true });
  const written = reader.prepare("SELECT count(*) AS n FROM hits WHERE hit_count > 0").get();
  reader.close();
  // At least k0..k49, older in the file than k50; written once, the next eviction reads past them.
  assert.ok(Number(written?.n) >= 50, `${written?.n} entries' hits written`);
  await store.close();
});

const bytes = (text: string) => new TextEncoder().encode(text);

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
      "1, 9e15, 1, 3, 2, x'7b7d')",
  ).run();
  old.close();
  const store = SqliteStore.open(path, { maxEntries: 10 });
  assert.equal((await store.inspect("old"))?.hitCount, 3, "hit counts move to the hits table");
  assert.deepEqual([await store.count(), await store.bytes()], [1, 2], "totals counted once");
  const got = await store.get("old");
  assert.deepEqual(
    [got?.namespace, got?.timing, got?.snippet, got?.body],
    ["", [], "", bytes("{}")],
  );
  assert.equal((await store.inspect("old"))?.request, undefined);
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
