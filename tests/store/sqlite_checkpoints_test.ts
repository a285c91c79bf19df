// WAL checkpoints from a worker: the writing connection stops checkpointing inside its commits,
// the worker keeps the WAL small instead, and a worker that fails hands the job back.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createLogger } from "../../src/log.ts";
import { Checkpoints } from "../../src/store/_sqlite_checkpoints.ts";
import { eventually, tempHome } from "../support/harness.ts";

const ROW_BYTES = 64 * 1024;
const ROWS = 384; // 24 MiB

function openWal(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (b BLOB)");
  return db;
}

/** Writes {@link ROWS} rows, one commit each, letting other threads run every sixteen. */
async function writeMany(db: DatabaseSync): Promise<void> {
  const insert = db.prepare("INSERT INTO t (b) VALUES (?)");
  const row = new Uint8Array(ROW_BYTES).fill(7);
  for (let i = 0; i < ROWS; i++) {
    insert.run(row);
    if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

function autocheckpoint(db: DatabaseSync): number {
  return Number(Object.values(db.prepare("PRAGMA wal_autocheckpoint").get() ?? {})[0]);
}

Deno.test("Checkpoints: a worker checkpoints the WAL, the writing connection no longer does", async () => {
  await using home = await tempHome();
  const alone = openWal(`${home.path}/alone.db`);
  alone.exec("PRAGMA wal_autocheckpoint = 0"); // what the worker's connection turns off
  await writeMany(alone);
  const unchecked = (await Deno.stat(`${home.path}/alone.db-wal`)).size;
  alone.close();

  const path = `${home.path}/cache.db`;
  const db = openWal(path);
  const checkpoints = new Checkpoints(db, path, createLogger("debug", () => {}));
  try {
    assert.equal(autocheckpoint(db), 0);
    await writeMany(db);
    const checked = (await Deno.stat(`${path}-wal`)).size;
    assert.ok(unchecked > 20 * 1024 * 1024, `without checkpoints the WAL grew to ${unchecked} B`);
    assert.ok(checked < 12 * 1024 * 1024, `with the worker the WAL stayed at ${checked} B`);
  } finally {
    checkpoints.stop();
    db.close();
  }
});

Deno.test("Checkpoints: a worker that fails is logged, and the connection checkpoints itself again", async () => {
  await using home = await tempHome();
  const db = openWal(`${home.path}/cache.db`);
  const lines: string[] = [];
  const checkpoints = new Checkpoints(
    db,
    `${home.path}/no-such-folder/cache.db`, // the worker cannot open it
    createLogger("debug", (line) => lines.push(line)),
  );
  try {
    const line = await eventually(
      "the failure line",
      () => Promise.resolve(lines.find((l) => l.includes("Background checkpoints"))),
    );
    assert.match(
      line,
      /ERROR Background checkpoints of .*no-such-folder\/cache\.db stopped \(.+\)/,
    );
    assert.match(line, /the proxy checkpoints it itself again/);
    assert.equal(autocheckpoint(db), 1000);
  } finally {
    checkpoints.stop();
    db.close();
  }
});
