/**
 * The Redis store's hot tier against a real redis-server, with two stores on it as two
 * instances: repeat hits without a round trip, and never an entry Redis no longer holds, whoever
 * changed it and however (a put, a delete, an eviction, an expiry, a flush, a lost connection).
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { RedisStore } from "../../src/store/redis.ts";
import type { NewEntry } from "../../src/store/store.ts";
import { HotTier } from "../../src/store/_redis_hot.ts";
import { newEntry } from "../support/entry.ts";
import { startRedis } from "../support/redis.ts";
import { needs } from "../support/tools.ts";

function entry(key: string, overrides: Partial<NewEntry> = {}): NewEntry {
  return newEntry(key, { expiresAt: Date.now() + 60_000, ...overrides });
}

async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function setup(maxEntries = 100) {
  const redis = await startRedis();
  const raw = createClient({ url: redis.url, RESP: 2 });
  await raw.connect();
  const a = await RedisStore.open(redis.url, { maxEntries });
  const b = await RedisStore.open(redis.url, { maxEntries });
  const scripts = async () => {
    const stats = String(await raw.sendCommand(["INFO", "commandstats"]));
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };
  /** Reads `key` on `store` until a read is served without running a script. */
  const warm = (store: RedisStore, key: string) =>
    until(`${key} to be served from the hot tier`, async () => {
      await store.get(key);
      const before = await scripts();
      await store.get(key);
      return await scripts() === before;
    });
  return {
    redis,
    raw,
    a,
    b,
    scripts,
    warm,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
      raw.destroy();
      await redis[Symbol.asyncDispose]();
    },
  };
}

Deno.test(
  "RedisStore's hot tier serves repeat hits without a round trip, and counts them later",
  needs("redis-server"),
  async () => {
    await using t = await setup();
    await t.a.put(entry("k"), ["alias"]);
    await t.warm(t.b, "k");
    await t.warm(t.b, "alias");
    const before = await t.scripts();
    for (let i = 0; i < 100; i++) assert.equal((await t.b.get(i % 2 ? "k" : "alias"))?.key, "k");
    assert.equal(await t.scripts() - before, 0, "no script ran for 100 hits");
    const [summary] = await t.b.list(); // counts what was served here first
    assert.ok(summary!.hitCount >= 100, `${summary!.hitCount} hits counted`);
    assert.equal(
      (await t.a.inspect("k"))?.hitCount,
      summary!.hitCount,
      "the same for every instance",
    );
  },
);

Deno.test(
  "RedisStore's hot tier never serves an entry another instance replaced, deleted or evicted",
  needs("redis-server"),
  async () => {
    await using t = await setup(3);
    await t.a.put(entry("k", { snippet: "first" }));
    await t.warm(t.b, "k");
    await t.a.put(entry("k", { snippet: "second" }));
    await until("the new answer", async () => (await t.b.get("k"))?.snippet === "second");
    await t.warm(t.b, "k");
    await t.a.delete("k");
    await until("the delete", async () => await t.b.get("k") === undefined);

    await t.a.put(entry("old"), ["old-alias"]);
    await t.warm(t.b, "old-alias");
    // LRU scores are ms: in the same ms as the last hit of "old", "n1" would tie with it and go first.
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const key of ["n1", "n2", "n3"]) await t.a.put(entry(key)); // evicts "old"
    await until("the eviction", async () => await t.b.get("old-alias") === undefined);
  },
);

Deno.test(
  "RedisStore's hot tier drops what Redis expired or flushed, and empties when its connection goes",
  needs("redis-server"),
  async () => {
    await using t = await setup();
    await t.a.put(entry("k"));
    await t.warm(t.b, "k");
    await t.raw.sendCommand(["PEXPIRE", "llm-cache-proxy:e:k", "1"]);
    await until("the expiry", async () => await t.b.get("k") === undefined);

    await t.a.put(entry("j"));
    await t.warm(t.b, "j");
    await t.raw.sendCommand(["FLUSHALL"]);
    await until("the flush", async () => await t.b.get("j") === undefined);

    await t.a.put(entry("i"));
    await t.warm(t.b, "i");
    await t.raw.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]); // the tracking connections
    await t.raw.sendCommand(["DEL", "llm-cache-proxy:e:i"]); // a change nobody is told of
    assert.equal(await t.b.get("i"), undefined, "read from Redis once tracking is lost");
  },
);

Deno.test("the hot tier stops serving, and forgets, once its heartbeat stops coming back", async () => {
  let deliver: ((keys: unknown) => unknown) | undefined;
  const written: string[] = [];
  const tier = new HotTier({
    prefix: "p:",
    maxBytes: 1024 * 1024,
    connect: () => ({
      connect: () => Promise.resolve(),
      sendCommand: (args) => Promise.resolve(args[1] === "ID" ? 7 : "OK"),
      subscribe: (_channel, listener) => Promise.resolve(deliver = listener),
      on: () => {},
      destroy: () => {},
    }),
    // A heartbeat comes back through the tracking connection while `deliver` is set.
    send: (args) => {
      written.push(args[1]!);
      deliver?.([args[1]]);
      return Promise.resolve("OK");
    },
    countHits: () => Promise.resolve(),
  });
  try {
    const now = Date.now();
    const { request: _request, ...kept } = newEntry("k", { expiresAt: now + 60_000 });
    assert.equal(tier.lookup("k", now), undefined, "not live before its first heartbeat");
    await until("a heartbeat", () => Promise.resolve(tier.live));
    tier.keep("k", kept, tier.mark());
    assert.equal(tier.lookup("k", now)?.key, "k");
    const silent = deliver;
    deliver = undefined; // the connection stays open but says nothing more
    await until("the tier to give up", () => Promise.resolve(!tier.live));
    deliver = silent;
    await until("a heartbeat again", () => Promise.resolve(tier.live));
    assert.equal(tier.lookup("k", now), undefined, "what it held while deaf is forgotten");
    assert.ok(written.every((key) => key.startsWith("p:hb:")));
  } finally {
    await tier.close();
  }
});
