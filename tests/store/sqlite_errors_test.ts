// How the SQLite store behaves when its file fails: SQLite's real errors turned into words a
// user can act on, a real full disk (a tiny tmpfs, see tests/support/tiny_disk.ts), and counts
// that stay what the file holds.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createLogger } from "../../src/log.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { StorageError, storageError } from "../../src/store/storage_error.ts";
import { messageBody, postMessage, startProxy } from "../support/proxy.ts";
import { newEntry, rowsInFile } from "../support/entry.ts";
import { tempHome } from "../support/harness.ts";
import { needsMount, tinyDisk } from "../support/tiny_disk.ts";

function logTo(lines: string[]) {
  return createLogger("debug", (line) => lines.push(line));
}

const KiB = 1024;

Deno.test("storageError() names SQLite's real failures and says what to do", async (t) => {
  await using home = await tempHome("sqlite_errors_");
  const path = `${home.path}/cache.db`;

  await t.step("max_page_count reached is 'Disk full', from exec and a statement", () => {
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE t (b BLOB); PRAGMA max_page_count = 3");
    const fromExec = catching(() => db.exec(`INSERT INTO t VALUES (zeroblob(${64 * KiB}))`));
    const fromStatement = catching(() =>
      db.prepare("INSERT INTO t VALUES (?)").run(new Uint8Array(64 * KiB))
    );
    db.close();
    for (const e of [fromExec, fromStatement]) {
      const error = storageError(e, path);
      assert.ok(error instanceof StorageError, String(e));
      assert.equal(error.problem, "full");
      assert.match(error.message, /^Disk full: cannot write the cache at .*cache\.db/);
      assert.ok(error.message.includes(`free space on the disk that holds ${home.path}`));
      assert.equal(error.cause, e, "SQLite's own error is kept");
    }
    Deno.removeSync(path);
  });

  await t.step("a file that is not a database is 'Database corrupt'", () => {
    Deno.writeTextFileSync(path, "this is not a database, just text ".repeat(200));
    const error = storageError(
      catching(() => new DatabaseSync(path).exec("SELECT 1 FROM x")),
      path,
    );
    assert.ok(error instanceof StorageError);
    assert.equal(error.problem, "corrupt");
    assert.match(error.message, /^Database corrupt: .*file is not a database.*cache\.db\.corrupt-/);
    Deno.removeSync(path);
  });

  await t.step("a read-only connection is 'Read-only'", () => {
    new DatabaseSync(path).exec("CREATE TABLE t (x)");
    const db = new DatabaseSync(path, { readOnly: true });
    const error = storageError(catching(() => db.exec("INSERT INTO t VALUES (1)")), path);
    db.close();
    assert.ok(error instanceof StorageError);
    assert.equal(error.problem, "read-only");
    assert.match(error.message, /^Read-only: .* writable/);
  });

  await t.step("a lock held by another connection is 'Locked'", () => {
    const holder = new DatabaseSync(path);
    const waiter = new DatabaseSync(path);
    holder.exec("BEGIN IMMEDIATE");
    waiter.exec("PRAGMA busy_timeout = 0");
    const error = storageError(catching(() => waiter.exec("BEGIN IMMEDIATE")), path);
    holder.exec("ROLLBACK");
    holder.close();
    waiter.close();
    assert.ok(error instanceof StorageError);
    assert.equal(error.problem, "busy");
    assert.match(error.message, /^Locked: another process/);
  });

  await t.step("an error that is not about the file is left as it is", () => {
    const db = new DatabaseSync(":memory:");
    const e = catching(() => db.prepare("SELECT * FROM nowhere"));
    db.close();
    assert.equal(storageError(e, path), e);
  });
});

function catching(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected SQLite to fail");
}

Deno.test({
  name: "SqliteStore on a full disk says so, keeps its count true and evicts nothing early",
  ...needsMount(),
  async fn() {
    await using disk = await tinyDisk(1024);
    const filler = `${disk.path}/filler`;
    await Deno.writeFile(filler, new Uint8Array(256 * KiB));
    const lines: string[] = [];
    const path = `${disk.path}/cache.db`;
    const store = SqliteStore.open(path, { maxEntries: 40, log: logTo(lines) });
    try {
      const body = new Uint8Array(8 * KiB).fill(120);
      const stored: string[] = [];
      let full: unknown;
      for (let i = 0; i < 200 && full === undefined; i++) {
        try {
          await store.put(newEntry(`k${i}`, { body }));
          stored.push(`k${i}`);
        } catch (e) {
          full = e;
        }
      }
      assert.ok(full instanceof StorageError, `a put fails with a StorageError: ${full}`);
      assert.equal(full.problem, "full");
      assert.match(full.message, /^Disk full: /);
      assert.doesNotMatch(full.message, /no transaction is active/);
      assert.ok(full.message.includes(disk.path), "it names the folder");
      assert.ok(stored.length > 2 && stored.length < 40, `${stored.length} entries fit`);

      // More misses while the disk is full: each put fails, none is counted.
      for (let i = 0; i < 40; i++) {
        await assert.rejects(store.put(newEntry(`late${i}`, { body })), /Disk full/);
      }
      assert.equal(await store.count(), rowsInFile(path), "count() is what the file holds");
      assert.equal(await store.count(), stored.length);
      const errors = lines.filter((line) => line.includes(" ERROR "));
      assert.equal(errors.length, 1, `one error line for the whole outage:\n${errors.join("\n")}`);
      assert.match(errors[0]!, /Disk full: cannot write the cache at/);

      // Space again: the next put is stored and evicts nothing (40 is far away).
      await Deno.remove(filler);
      await store.put(newEntry("after", { body }));
      assert.ok(lines.some((line) => /INFO Cache writes work again \(after: full\)/.test(line)));
      for (const key of [...stored, "after"]) assert.ok(await store.get(key), `${key} is kept`);
      assert.equal(await store.count(), stored.length + 1);
      assert.equal(rowsInFile(path), stored.length + 1);
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "a proxy on a full disk keeps answering from upstream, logs it once, and /stats is true",
  ...needsMount(),
  async fn() {
    await using disk = await tinyDisk(768);
    const path = `${disk.path}/cache.db`;
    const storeLines: string[] = [];
    const store = SqliteStore.open(path, { maxEntries: 1000, log: logTo(storeLines) });
    await using proxy = await startProxy({ store });
    const calls = 40;
    for (let i = 0; i < calls; i++) {
      const res = await postMessage(proxy, messageBody(`[mock:big:16384] disk full ${i}`));
      assert.equal(res.status, 200, `call ${i} is answered`);
      await res.body?.cancel();
    }
    assert.equal(proxy.mock.count("/v1/messages"), calls, "every call went upstream");
    const stats = await (await proxy.fetch("/stats")).json();
    const rows = rowsInFile(path);
    assert.ok(rows < calls, `the disk filled up (${rows} of ${calls} stored)`);
    assert.equal(stats.store.entries, rows, "/stats counts what the file holds");
    const fullLines = storeLines.filter((line) => / ERROR Disk full: /.test(line));
    assert.equal(fullLines.length, 1, "the store says it once");
    const perCall = proxy.logs.filter((line) => / ERROR Cache write failed/.test(line));
    assert.deepEqual(perCall, [], "the proxy does not repeat it per call");
    assert.ok(proxy.logs.some((line) => / DEBUG Cache write failed.*Disk full/.test(line)));
  },
});
