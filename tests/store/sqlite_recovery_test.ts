// A cache.db that is corrupt at start is set aside for a fresh one; one deleted or replaced
// while the store is open is noticed and recreated, with the all-time counters written back.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { buildConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { openForCommand, openStore } from "../../src/store/open.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { eventually, tempHome } from "../support/harness.ts";
import { newEntry } from "../support/entry.ts";

const AT = Date.UTC(2026, 11, 4, 23, 5, 12, 345);
const ASIDE = "cache.db.corrupt-2026-12-04T23-05-12Z";

function logTo(lines: string[]) {
  return createLogger("debug", (line) => lines.push(line));
}

/** What a separate connection finds in the file: entry keys and counters. */
function inFile(path: string): { keys: string[]; counters: Record<string, number> } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const keys = db.prepare("SELECT key FROM entries ORDER BY key").all().map((r) => String(r.key));
    const rows = db.prepare("SELECT name, value FROM counters").all();
    return { keys, counters: Object.fromEntries(rows.map((r) => [r.name, Number(r.value)])) };
  } finally {
    db.close();
  }
}

/** A real cache.db with `n` entries of 4 KiB, closed (so its WAL is folded in and removed). */
async function realDatabase(path: string, n: number): Promise<void> {
  const store = SqliteStore.open(path, { maxEntries: 1000 });
  const body = new Uint8Array(4096).fill(97);
  for (let i = 0; i < n; i++) await store.put(newEntry(`old${i}`, { body }));
  await store.close();
}

Deno.test("openStore() sets a corrupt cache.db aside and starts on a fresh one", async (t) => {
  const cases: [string, (path: string) => Promise<void>][] = [
    // SQLite folds (or drops) a -wal when it closes the file it could not read: not asserted.
    ["a file of garbage, with a -wal and a -shm", async (path) => {
      await Deno.writeTextFile(path, "not a database at all\n".repeat(500));
      await Deno.writeTextFile(`${path}-wal`, "wal garbage");
      await Deno.writeTextFile(`${path}-shm`, "shm garbage");
    }],
    ["a real database cut to half its size", async (path) => {
      await realDatabase(path, 60);
      await Deno.truncate(path, Math.floor((await Deno.stat(path)).size / 2));
    }],
  ];
  for (const [name, corrupt] of cases) {
    await t.step(name, async () => {
      await using home = await tempHome("sqlite_recovery_");
      const config = buildConfig({}, home.path);
      await corrupt(config.dbPath);
      const before = await Deno.readFile(config.dbPath);
      const lines: string[] = [];
      const { store } = await openStore(config, logTo(lines), () => AT);
      try {
        const errors = lines.filter((line) => line.includes(" ERROR "));
        assert.equal(errors.length, 1, lines.join("\n"));
        assert.match(errors[0]!, /Cache database .*cache\.db is corrupt \(.+\): moved it aside to/);
        assert.ok(errors[0]!.includes(`${home.path}/${ASIDE}`), errors[0]);
        assert.deepEqual(await Deno.readFile(`${home.path}/${ASIDE}`), before, "kept as it was");
        assert.equal(await store.count(), 0, "a fresh, empty cache");
        await store.put(newEntry("new"));
        assert.ok(await store.get("new"));
        assert.deepEqual(inFile(config.dbPath).keys, ["new"]);
      } finally {
        await store.close();
      }
    });
  }

  await t.step("a command does not move it, and says how to recover", async () => {
    await using home = await tempHome("sqlite_recovery_");
    const config = buildConfig({}, home.path);
    await Deno.writeTextFile(config.dbPath, "not a database at all\n".repeat(500));
    await assert.rejects(
      openForCommand(config),
      /^StorageError: Database corrupt: .*file is not a database.*start \(or restart\) the proxy/,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(home.path), (e) => e.name), ["cache.db"]);
  });
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("SqliteStore notices a cache.db deleted under it and recreates it, counters and all", async (t) => {
  const removals: [string, (dir: string) => Promise<void>][] = [
    ["cache.db alone", (dir) => Deno.remove(`${dir}/cache.db`)],
    ["cache.db with its -wal and -shm", async (dir) => {
      for (const name of ["cache.db", "cache.db-wal", "cache.db-shm"]) {
        await Deno.remove(`${dir}/${name}`);
      }
    }],
    ["the whole folder", (dir) => Deno.remove(dir, { recursive: true })],
  ];
  for (const [name, remove] of removals) {
    await t.step(name, async () => {
      await using home = await tempHome("sqlite_recovery_");
      const dir = `${home.path}/home`;
      const path = `${dir}/cache.db`;
      const lines: string[] = [];
      // No timer during the test: the next write must notice by itself.
      const store = SqliteStore.open(path, {
        maxEntries: 10,
        log: logTo(lines),
        flushEveryMs: 1e9,
      });
      try {
        await store.put(newEntry("before"));
        await store.readCounters(); // what the ledger does at start
        await store.addCounters(new Map([["calls\tMISS\tm", 5]]));
        assert.ok(await store.get("before"));
        await remove(dir);

        await store.put(newEntry("after"));
        await store.addCounters(new Map([["calls\tMISS\tm", 1]]));
        const errors = lines.filter((line) => line.includes(" ERROR "));
        assert.equal(errors.length, 1, lines.join("\n"));
        assert.match(
          errors[0]!,
          /Cache database .*cache\.db was deleted while the proxy was running: now using a new, empty one there; the all-time stats were written back into it/,
        );
        assert.deepEqual(inFile(path), { keys: ["after"], counters: { "calls\tMISS\tm": 6 } });
        assert.equal(await store.count(), 1);
        assert.equal(await store.get("before"), undefined, "the hot tier forgot the old file");
        assert.ok(await store.get("after"));
      } finally {
        await store.close();
      }
      assert.deepEqual(inFile(path).keys, ["after"], "closing the old file left the new one be");
    });
  }

  await t.step("an idle store notices within its timer's period", async () => {
    await using home = await tempHome("sqlite_recovery_");
    const path = `${home.path}/cache.db`;
    const lines: string[] = [];
    const store = SqliteStore.open(path, { maxEntries: 10, log: logTo(lines), flushEveryMs: 20 });
    try {
      await store.put(newEntry("before"));
      await Deno.remove(path);
      await eventually(
        "the error line",
        () => Promise.resolve(lines.find((line) => / ERROR .*was deleted/.test(line))),
      );
      assert.ok(await exists(path), "a new cache.db is there");
    } finally {
      await store.close();
    }
  });

  await t.step("a file put in its place is used as it is", async () => {
    await using home = await tempHome("sqlite_recovery_");
    const path = `${home.path}/cache.db`;
    const backup = `${home.path}/backup.db`;
    await realDatabase(backup, 3);
    const lines: string[] = [];
    const store = SqliteStore.open(path, { maxEntries: 10, log: logTo(lines), flushEveryMs: 1e9 });
    try {
      await store.readCounters();
      await store.addCounters(new Map([["calls\tHIT\tm", 9]]));
      await Deno.rename(backup, path);
      await store.put(newEntry("new"));
      const errors = lines.filter((line) => line.includes(" ERROR "));
      assert.equal(errors.length, 1, lines.join("\n"));
      assert.match(
        errors[0]!,
        /cache\.db was replaced while the proxy was running: now using the new file/,
      );
      assert.deepEqual(inFile(path), {
        keys: ["new", "old0", "old1", "old2"],
        counters: { "calls\tHIT\tm": 9 },
      });
      assert.equal(await store.count(), 4);
    } finally {
      await store.close();
    }
  });
});

Deno.test("a cache.db found corrupt while in use is set aside for a fresh one, counters kept", async () => {
  await using home = await tempHome("sqlite_recovery_");
  const path = `${home.path}/cache.db`;
  await realDatabase(path, 60);
  const lines: string[] = [];
  const store = SqliteStore.open(path, {
    maxEntries: 1000,
    log: logTo(lines),
    setAsideCorrupt: true,
    now: () => AT,
    flushEveryMs: 1e9,
  });
  try {
    await store.readCounters();
    await store.addCounters(new Map([["calls\tHIT\tm", 4]]));
    assert.equal(await store.count(), 60);
    // Damage the pages past the first few: the schema and what the count read stay whole.
    const size = (await Deno.stat(path)).size;
    using file = await Deno.open(path, { write: true });
    await file.seek(Math.floor(size * 0.3), Deno.SeekMode.Start);
    await file.write(new Uint8Array(Math.floor(size * 0.6)).fill(0xff));

    await assert.rejects(store.get("old30"), /Database corrupt/);
    const errors = lines.filter((line) => line.includes(" ERROR "));
    assert.equal(errors.length, 1, lines.join("\n"));
    assert.ok(
      errors[0]!.includes(
        `is corrupt (database disk image is malformed): moved it aside to ${home.path}/${ASIDE} and started on a fresh, empty one; the all-time stats were kept`,
      ),
      errors[0],
    );
    assert.ok(await exists(`${home.path}/${ASIDE}`));
    assert.equal(await store.count(), 0);
    assert.equal(await store.get("old31"), undefined, "a miss, from the fresh file");
    await store.put(newEntry("new"));
    assert.ok(await store.get("new"));
    assert.deepEqual(inFile(path), { keys: ["new"], counters: { "calls\tHIT\tm": 4 } });
  } finally {
    await store.close();
  }
});
