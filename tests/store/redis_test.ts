import assert from "node:assert/strict";
import { createClient } from "redis";
import { emptyRow } from "../../src/values/history_row.ts";
import { RedisStore } from "../../src/store/redis.ts";
import type { NewEntry } from "../../src/store/store.ts";
import { newEntry } from "../support/entry.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";
import { needs } from "../support/tools.ts";

/** A plain client to look at what the store wrote. */
async function inspector(redis: RedisServer) {
  const client = createClient({ url: redis.url, RESP: 2 });
  await client.connect();
  return {
    send: <T = unknown>(...args: string[]) => client.sendCommand(args) as Promise<T>,
    [Symbol.asyncDispose]: () => Promise.resolve(client.destroy()),
  };
}

function entry(key: string, overrides: Partial<NewEntry> = {}): NewEntry {
  return newEntry(key, { expiresAt: Date.now() + 60_000, ...overrides });
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`Condition not met in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const reachable = (store: RedisStore) => store.ping().then(() => true, () => false);

async function elapsed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

Deno.test(
  "RedisStore gives an entry, its aliases and their set a TTL of expiresAt + staleMs",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using raw = await inspector(redis);
    const now = Date.now();
    await using store = await RedisStore.open(redis.url, {
      maxEntries: 10,
      staleMs: 10_000,
      now: () => now,
      prefix: "t:",
    });
    await store.put(entry("k", { expiresAt: now + 60_000 }), ["alias"]);
    for (const key of ["t:e:k", "t:a:alias", "t:al:k"]) {
      const ttl = await raw.send<number>("PTTL", key);
      assert.ok(ttl > 69_000 && ttl <= 70_000, `${key}: ${ttl} ms`);
    }
    assert.equal(await raw.send("PTTL", "t:lru"), -1, "indexes stay until pruned");
    await store.put(entry("old", { expiresAt: now - 3_600_000 }));
    const ttl = await raw.send<number>("PTTL", "t:e:old");
    assert.ok(
      ttl > 59_000 && ttl <= 60_000,
      `an entry past its stale window stays a minute: ${ttl}`,
    );
  },
);

Deno.test(
  "RedisStore keeps the history in one hash per hour or day, gone once its rows are past keeping",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using raw = await inspector(redis);
    const hour = 3_600_000;
    const now = Date.now(); // Redis expires by its own clock: the store's must agree
    await using store = await RedisStore.open(redis.url, {
      maxEntries: 10,
      now: () => now,
      prefix: "t:",
    });
    const row = (resolution: "minute" | "hour", start: number) =>
      Object.assign(emptyRow(resolution, start, "HIT", "m", ""), { calls: 1 });
    const dropBefore = { minute: now - 25 * hour, hour: now - 31 * 24 * hour };
    const thisHour = Math.floor(now / hour) * hour;
    await store.addHistory([
      row("minute", now),
      row("minute", now - 60_000),
      row("minute", now - 26 * hour), // past keeping: its hash goes at once
      row("hour", thisHour),
    ], dropBefore);
    const ttl = await raw.send<number>("PTTL", `t:h:minute:${thisHour}`);
    const expected = thisHour + hour + 25 * hour - Date.now(); // its last minute, kept 25 h
    assert.ok(Math.abs(ttl - expected) < 5_000, `minutes hash: ${ttl} ms, not ${expected}`);
    assert.equal(await raw.send("EXISTS", `t:h:minute:${thisHour - 26 * hour}`), 0);
    const day = Math.floor(now / (24 * hour)) * 24 * hour;
    const dayTtl = await raw.send<number>("PTTL", `t:h:hour:${day}`);
    assert.ok(dayTtl > 31 * 24 * hour && dayTtl <= 32 * 24 * hour, `hours hash: ${dayTtl} ms`);
    assert.deepEqual(
      (await store.readHistory("minute", 0)).map((r) => r.start).sort(),
      [now - 60_000, now],
    );
  },
);

Deno.test(
  "RedisStore serves a hit without SCAN or KEYS: only O(log n) commands per get",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using raw = await inspector(redis);
    // Without the hot tier: every get is the script.
    await using store = await RedisStore.open(redis.url, { maxEntries: 1000, hotBytes: 0 });
    for (let i = 0; i < 200; i++) await store.put(entry(`k${i}`), [`alias${i}`]);
    await store.get("nope"); // the first get sends the script (EVAL), later ones its SHA-1
    await raw.send("CONFIG", "RESETSTAT");
    for (let i = 0; i < 100; i++) {
      assert.ok(await store.get(`k${i}`));
      assert.ok(await store.get(`alias${i + 100}`));
      assert.equal(await store.get(`nope${i}`), undefined);
    }
    const stats = await raw.send<string>("INFO", "commandstats");
    const calls = new Map(
      [...stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((
        [, name, n],
      ) => [name!, Number(n)]),
    );
    calls.delete("config|resetstat");
    // 100 hits by key, 100 by alias (the key lookup misses first), 100 misses; a hit reads only
    // the answer fields (HMGET), never the request.
    const expected = { evalsha: 300, hget: 400, get: 200, hmget: 200, hincrby: 200, hset: 200 };
    assert.deepEqual(Object.fromEntries(calls), { ...expected, zadd: 200 });
  },
);

Deno.test(
  "RedisStore opens at once while Redis is down, rejects fast, and recovers without a restart",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await redis.stop();
    const start = performance.now();
    await using store = await RedisStore.open(redis.url, { maxEntries: 10 });
    const opening = performance.now() - start;
    assert.ok(opening < 1500, `open() took ${opening} ms`);
    const down = new RegExp(`Cannot reach Redis at 127\\.0\\.0\\.1:${redis.port} .*ECONNREFUSED`);
    for (const command of [() => store.get("k"), () => store.put(entry("k")), () => store.ping()]) {
      const took = await elapsed(() => assert.rejects(command(), down));
      assert.ok(took < 2000, `rejected after ${took} ms`);
    }
    await redis.start();
    await until(() => reachable(store), 5000);
    await store.put(entry("k"));
    assert.ok(await store.get("k"));

    await redis.stop();
    const took = await elapsed(() => assert.rejects(store.get("k"), /Redis at 127\.0\.0\.1/));
    assert.ok(took < 2000, `rejected after ${took} ms once the server went away`);
    await redis.start(); // empty again
    await until(() => reachable(store), 5000);
    assert.equal(await store.get("k"), undefined);
    await store.put(entry("k"));
    assert.ok(await store.get("k"));
  },
);

Deno.test(
  "RedisStore fails a command Redis does not answer in time, and stays in step after",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using raw = await inspector(redis);
    await using store = await RedisStore.open(redis.url, { maxEntries: 10, commandTimeoutMs: 200 });
    await store.put(entry("a"));
    await store.put(entry("b"));
    await raw.send("CLIENT", "PAUSE", "700", "ALL");
    const took = await elapsed(() => assert.rejects(store.get("a"), /did not answer/));
    assert.ok(took < 600, `timed out after ${took} ms`);
    await until(() => reachable(store), 3000);
    assert.equal((await store.get("b"))?.key, "b", "a late reply is not taken for the next one");
    assert.equal((await store.get("a"))?.key, "a");
  },
);

Deno.test(
  "RedisStore keeps stores with different key prefixes apart",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using raw = await inspector(redis);
    await using a = await RedisStore.open(redis.url, { maxEntries: 10, prefix: "team-a:" });
    await using b = await RedisStore.open(redis.url, { maxEntries: 10, prefix: "team-b:" });
    await using byDefault = await RedisStore.open(redis.url, { maxEntries: 10 });
    await a.put(entry("k"), ["alias"]);
    await a.addCounters(new Map([["calls", 1]]));
    assert.equal(await b.get("k"), undefined);
    assert.equal(await b.get("alias"), undefined);
    assert.deepEqual([await b.count(), await b.bytes(), await b.list()], [0, 0, []]);
    assert.deepEqual(await b.readCounters(), new Map());
    assert.equal(await b.delete("k"), false);
    assert.equal(await b.prune(Date.now() + 3_600_000), 0);
    assert.ok(await a.get("alias"));
    await byDefault.put(entry("k"));
    assert.equal(byDefault.prefix, "llm-cache-proxy:");
    assert.equal(await raw.send("EXISTS", "llm-cache-proxy:e:k"), 1);
    const outside = (await raw.send<string[]>("KEYS", "*"))
      .filter((key) => !/^(team-a|team-b|llm-cache-proxy):/.test(key));
    assert.deepEqual(outside, [], "every key under its store's prefix");
  },
);

Deno.test("RedisStore never repeats a password from its URL", needs("redis-server"), async () => {
  await assert.rejects(
    RedisStore.open("http://user:hunter2@127.0.0.1:6379", { maxEntries: 1 }),
    (e: Error) => e instanceof TypeError && !e.message.includes("hunter2"),
  );
  await assert.rejects(
    RedisStore.open("redis://user:hunter2@[bad", { maxEntries: 1 }),
    (e: Error) => e instanceof TypeError && !e.message.includes("hunter2"),
  );
  await using redis = await startRedis();
  await redis.stop();
  const url = `redis://user:hunter2@127.0.0.1:${redis.port}`;
  await using store = await RedisStore.open(url, { maxEntries: 1 });
  await assert.rejects(store.get("k"), (e: Error) => !e.message.includes("hunter2"));
});

Deno.test(
  "RedisStore prunes in batches: more expired entries than one batch all go",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    let now = Date.now();
    await using store = await RedisStore.open(redis.url, {
      maxEntries: 5000,
      staleMs: 0,
      now: () => now,
      prefix: "p:",
    });
    const expired = 1200; // more than two batches of 500
    for (let i = 0; i < expired; i += 100) {
      await Promise.all(
        Array.from(
          { length: 100 },
          (_, j) => store.put(entry(`old${i + j}`, { createdAt: now, expiresAt: now + 1000 })),
        ),
      );
    }
    await store.put(entry("fresh", { createdAt: now, expiresAt: now + 3_600_000 }));
    now += 2000;
    assert.equal(await store.prune(now), expired);
    assert.equal(await store.count(), 1);
    assert.deepEqual((await store.list()).map((e) => e.key), ["fresh"]);
  },
);

Deno.test(
  "RedisStore: count() and bytes() leave out entries whose TTL ended, and clean their indexes",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using raw = await inspector(redis);
    let now = Date.now();
    await using store = await RedisStore.open(redis.url, {
      maxEntries: 10,
      staleMs: 0,
      now: () => now,
      prefix: "t:",
    });
    await store.put(entry("short", { expiresAt: now + 1000 }), ["alias"]);
    await store.put(entry("long", { expiresAt: now + 3_600_000 }));
    assert.equal(await store.count(), 2);
    await raw.send("PEXPIRE", "t:e:short", "1"); // Redis's clock reaches the TTL ...
    await until(async () => await raw.send("EXISTS", "t:e:short") === 0, 1000);
    now += 60_001; // ... and so does the store's (the shortest TTL is a minute)
    assert.equal(await store.count(), 1, "the entry Redis dropped is not counted");
    assert.equal(await store.bytes(), entry("long").body.byteLength);
    assert.equal(await raw.send("ZSCORE", "t:lru", "short"), null, "its index members are gone");
    assert.deepEqual((await store.list()).map((e) => e.key), ["long"]);
  },
);

Deno.test(
  "RedisStore: the fleet's first cap and longest stale window stand; a put evicts a little at a time",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using raw = await inspector(redis);
    const now = Date.now();
    const notes: string[] = [];
    await using a = await RedisStore.open(redis.url, { maxEntries: 100, staleMs: 86_400_000 });
    await using b = await RedisStore.open(redis.url, {
      maxEntries: 2,
      staleMs: 0,
      note: (message) => notes.push(message),
    });
    assert.equal(notes.length, 2, notes.join("\n"));
    assert.match(
      notes[0]!,
      /CACHE_MAX_ENTRIES is 2 here, but the fleet's Redis caps entries at 100/,
    );
    assert.match(
      notes[1]!,
      /CACHE_STALE_SEC is 0 here, but another instance keeps entries 86400 s/,
    );
    for (let i = 0; i < 5; i++) await b.put(entry(`k${i}`));
    assert.equal(await a.count(), 5, "B keeps to the fleet's cap, not its own");
    await b.put(entry("expired", { expiresAt: now - 1000 }));
    assert.equal(await b.prune(now), 0, "B prunes nothing another instance may still serve");
    assert.equal((await a.getStale("expired", 86_400_000))?.key, "expired");

    for (let i = 0; i < 60; i++) await a.put(entry(`m${i}`));
    await raw.send("HSET", "llm-cache-proxy:settings", "maxEntries", "10");
    await using c = await RedisStore.open(redis.url, { maxEntries: 10 });
    await c.put(entry("new"));
    assert.equal(await c.count(), 66 + 1 - 32, "one put evicts at most 32");
    await c.put(entry("newer"));
    assert.equal(await c.count(), 10);
  },
);
