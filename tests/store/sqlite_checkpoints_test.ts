// WAL checkpoints helped by a worker: it copies the WAL into the file between commits, the WAL
// still starts over under a steady stream of puts, and a worker that fails is said once.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createLogger } from "../../src/log.ts";
import { Checkpoints } from "../../src/store/_sqlite_checkpoints.ts";
import { SqliteFile } from "../../src/store/_sqlite_file.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { newEntry } from "../support/entry.ts";
import { eventually, tempHome } from "../support/harness.ts";

const ROW_BYTES = 64 * 1024;
const ROWS = 384; // 24 MiB

function openWal(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  // No checkpoints of its own: what reaches the file is what the worker copied.
  db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB)");
  return db;
}

/** Writes {@link ROWS} rows, one commit each, as `SqliteFile` does (`beforeWrite` first). */
async function writeMany(db: DatabaseSync, checkpoints?: Checkpoints): Promise<void> {
  const insert = db.prepare("INSERT INTO t (b) VALUES (?)");
  const row = new Uint8Array(ROW_BYTES).fill(7);
  for (let i = 0; i < ROWS; i++) {
    checkpoints?.beforeWrite();
    insert.run(row);
    if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function autocheckpoint(db: DatabaseSync): number {
  return Number(Object.values(db.prepare("PRAGMA wal_autocheckpoint").get() ?? {})[0]);
}

/** Gives a started worker's thread time to load. */
function loaded(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 500));
}

Deno.test("Checkpoints: the worker copies the WAL into the file while the connection writes", async () => {
  await using home = await tempHome();
  const alone = openWal(`${home.path}/alone.db`);
  await writeMany(alone);
  const uncopied = (await Deno.stat(`${home.path}/alone.db`)).size;
  alone.close();

  const path = `${home.path}/cache.db`;
  const db = openWal(path);
  const checkpoints = new Checkpoints(db, path, createLogger("debug", () => {}));
  try {
    checkpoints.beforeWrite();
    assert.equal(autocheckpoint(db), 8000, "the commits' own checkpoints, 8 times rarer");
    await loaded();
    await writeMany(db, checkpoints);
    const copied = await eventually("the worker to copy", async () => {
      const size = (await Deno.stat(path)).size;
      return size > 20 * 1024 * 1024 ? size : undefined;
    }, 3_000);
    assert.ok(uncopied < 1024 * 1024, `without the worker the file stays at ${uncopied} B`);
    assert.ok(copied > 20 * 1024 * 1024, `${copied} B copied`);
  } finally {
    checkpoints.stop();
    db.close();
  }
});

Deno.test("Checkpoints: under a steady stream of puts the WAL still starts over", async () => {
  await using home = await tempHome();
  const path = `${home.path}/cache.db`;
  const store = SqliteStore.open(path, { maxEntries: 1_000, checkpointInBackground: true });
  try {
    const body = new Uint8Array(ROW_BYTES).fill(7);
    await store.put(newEntry("first", { body }));
    await loaded();
    for (let i = 0; i < 4 * ROWS; i++) {
      await store.put(newEntry(`k${i}`, { body }));
      if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const wal = (await Deno.stat(`${path}-wal`)).size;
    // A WAL that never started over would hold all 96 MiB; it starts over past 32 MiB.
    assert.ok(wal < 48 * 1024 * 1024, `the WAL grew to ${wal} B for 96 MiB written`);
  } finally {
    await store.close();
  }
});

Deno.test("Checkpoints: no worker before the first write; one that fails is said once", async () => {
  await using home = await tempHome();
  const lines: string[] = [];
  const db = new DatabaseSync(`${home.path}/cache.db`);
  const checkpoints = new Checkpoints(
    db,
    `${home.path}/no-such-folder/cache.db`, // the worker cannot open it
    createLogger("debug", (line) => lines.push(line)),
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(lines.length, 0, "no worker before the first write");
    checkpoints.beforeWrite();
    const line = await eventually(
      "the failure line",
      () => Promise.resolve(lines.find((l) => l.includes("Background checkpoints"))),
    );
    assert.match(
      line,
      /ERROR Background checkpoints of .*no-such-folder\/cache\.db stopped \(.+\)/,
    );
    assert.match(line, /the proxy copies its write-ahead log into the file itself again/);
    assert.equal(autocheckpoint(db), 1000, "commits checkpoint as SQLite's default has them");
    checkpoints.beforeWrite();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(lines.length, 1, "not started again");
  } finally {
    checkpoints.stop();
    db.close();
  }
});

Deno.test("Checkpoints: a failed write ends the worker, the write after one that works starts it again", async () => {
  await using home = await tempHome();
  const file = SqliteFile.open(`${home.path}/cache.db`, {
    checkpointInBackground: true,
    log: createLogger("debug", () => {}),
  });
  try {
    const db = file.db;
    db.exec("CREATE TABLE t (b BLOB)");
    const insert = db.prepare("INSERT INTO t (b) VALUES (?)");
    const write = () => file.transaction(() => insert.run(new Uint8Array(64 * 1024)), () => {});
    write();
    assert.equal(autocheckpoint(db), 8000, "the worker runs");
    const pages = Number(Object.values(db.prepare("PRAGMA page_count").get() ?? {})[0]);
    db.exec(`PRAGMA max_page_count = ${pages}`); // the disk is full
    assert.throws(write, /full/i);
    assert.equal(autocheckpoint(db), 1000, "commits checkpoint as SQLite's default has them");
    db.exec("PRAGMA max_page_count = 1000000"); // room again
    write();
    assert.equal(autocheckpoint(db), 1000, "not yet: the write that worked was the first");
    write();
    assert.equal(autocheckpoint(db), 8000, "the worker runs again");
  } finally {
    file.close();
  }
});
