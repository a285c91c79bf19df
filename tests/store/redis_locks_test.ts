import assert from "node:assert/strict";
import { createClient } from "redis";
import { type LockClient, RedisFlightLocks } from "../../src/store/redis_locks.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";
import { needs } from "../support/tools.ts";

const PREFIX = "test:";

async function until(ok: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!await ok()) {
    if (Date.now() > end) throw new Error(what);
    await sleep(10);
  }
}

function defaultClient(url: string) {
  return createClient({ url });
}

/** Configured as RedisStore configures its client: RESP 2, no offline queue, command timeouts. */
function storeLikeClient(url: string) {
  return createClient({
    url,
    RESP: 2,
    disableOfflineQueue: true,
    commandOptions: { timeout: 500 },
  });
}

type Client = ReturnType<typeof defaultClient>;

async function connect<C extends Client | ReturnType<typeof storeLikeClient>>(
  client: C,
): Promise<C & AsyncDisposable> {
  client.on("error", () => {});
  await client.connect();
  return Object.assign(client, { [Symbol.asyncDispose]: () => Promise.resolve(client.destroy()) });
}

function locksOn(client: LockClient, pollMs?: number): RedisFlightLocks & AsyncDisposable {
  const locks = new RedisFlightLocks(client, { prefix: PREFIX, ...pollMs ? { pollMs } : {} });
  return Object.assign(locks, { [Symbol.asyncDispose]: () => locks.close() });
}

/** Rejects if `task` takes longer than `ms`: a broken wait fails the test instead of hanging it. */
async function within<T>(ms: number, task: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([task, late]);
  } finally {
    clearTimeout(timer);
  }
}

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function text(chunk: Uint8Array | undefined): string {
  return new TextDecoder().decode(chunk);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function timed(task: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task;
  return performance.now() - started;
}

async function lockExists(client: Client, key: string): Promise<boolean> {
  return await client.exists(`${PREFIX}lock:${key}`) === 1;
}

Deno.test(
  "RedisFlightLocks.acquire() gives the lock to one of many callers on two connections",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using b = await connect(storeLikeClient(redis.url));
    await using locksA = locksOn(a);
    await using locksB = locksOn(b);
    const tries = Array.from(
      { length: 20 },
      (_, i) => (i % 2 ? locksA : locksB).acquire("k", 5000),
    );
    const held = (await Promise.all(tries)).filter((lock) => lock !== undefined);
    assert.equal(held.length, 1);
    assert.equal(await locksB.acquire("other", 5000) !== undefined, true, "keys are independent");
  },
);

Deno.test(
  "RedisFlightLocks.follow() streams what the holder publishes: head first, chunks as they pass",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using b = await connect(storeLikeClient(redis.url));
    await using locksA = locksOn(a);
    await using locksB = locksOn(b, 20);
    const lock = await locksA.acquire("k", 5000);
    assert.ok(lock);
    const upstream = new TransformStream<Uint8Array, Uint8Array>();
    const writer = upstream.writable.getWriter();
    const headers = { "content-type": "text/event-stream", "request-id": "req_1" };
    const published = lock.publish(new Response(upstream.readable, { status: 529, headers }));
    const drained = published.text();
    const following = locksB.follow("k", new AbortController().signal);
    await writer.write(bytes("one "));
    const followed = await within(2000, following);
    assert.ok(followed);
    assert.equal(followed.status, 529);
    assert.equal(followed.headers.get("request-id"), "req_1");
    const reader = followed.body!.getReader();
    assert.equal(text((await within(2000, reader.read())).value), "one ");
    await writer.write(bytes("two "));
    assert.equal(text((await within(2000, reader.read())).value), "two ");
    const late = await locksB.follow("k", new AbortController().signal);
    await writer.write(bytes("three"));
    await writer.close();
    assert.equal(await drained, "one two three", "the holder's own answer is untouched");
    await lock.release();
    assert.equal(text((await reader.read()).value), "three");
    assert.equal((await reader.read()).done, true);
    assert.equal(await late!.text(), "one two three", "a late reader gets the chunks so far first");
  },
);

Deno.test(
  "RedisFlightLocks.follow() answers nothing at once when nobody holds the lock",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using locksA = locksOn(a, 60_000);
    const lock = await locksA.acquire("k", 5000);
    assert.ok(lock);
    await lock.release();
    const signal = new AbortController().signal;
    let answer: Response | undefined;
    const waited = await timed(locksA.follow("k", signal).then((r) => answer = r));
    assert.equal(answer, undefined);
    assert.ok(waited < 100, `follow() after ${Math.round(waited)} ms`);
  },
);

Deno.test(
  "RedisFlightLocks.follow(): a holder that dies mid-answer breaks the body off",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using locksA = locksOn(a, 20);
    const lock = await locksA.acquire("k", 300);
    assert.ok(lock);
    const upstream = new TransformStream<Uint8Array, Uint8Array>();
    lock.publish(new Response(upstream.readable)).body!.getReader().read();
    await upstream.writable.getWriter().write(bytes("partial"));
    const followed = await locksA.follow("k", new AbortController().signal);
    assert.ok(followed); // never extended nor released: the holder is gone
    await assert.rejects(within(3000, followed.text()), /stopped mid-answer/);
  },
);

Deno.test(
  "RedisFlightLocks: extend() keeps a lock past its TTL",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using b = await connect(defaultClient(redis.url));
    await using locksA = locksOn(a);
    await using locksB = locksOn(b);
    const lock = await locksA.acquire("k", 400);
    assert.ok(lock);
    await sleep(250);
    await lock.extend();
    assert.ok(await a.pTTL(`${PREFIX}lock:k`) > 350, "a full TTL again");
    await sleep(250); // past the first TTL, within the extended one
    assert.equal(await locksB.acquire("k", 300), undefined, "still held");
    await lock.release();
    await lock.extend();
    assert.equal(await lockExists(a, "k"), false, "a released lock is not taken back");
    assert.ok(await locksB.acquire("k", 300), "free after release");
  },
);

Deno.test(
  "RedisFlightLocks: a holder that dies blocks others only until its TTL",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using b = await connect(defaultClient(redis.url));
    await using locksB = locksOn(b);
    {
      await using a = await connect(defaultClient(redis.url));
      await using locksA = locksOn(a);
      assert.ok(await locksA.acquire("k", 300)); // never released: the holder goes away
    }
    let answer: Response | undefined;
    const waited = await timed(
      locksB.follow("k", new AbortController().signal).then((r) => answer = r),
    );
    assert.equal(answer, undefined, "nothing to follow from a holder that went before its head");
    assert.ok(waited > 200 && waited < 1500, `follow() after ${Math.round(waited)} ms`);
    assert.ok(await locksB.acquire("k", 5000), "the next instance takes over");
  },
);

Deno.test(
  "RedisFlightLocks: a stale holder cannot release or extend the new holder's lock",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using b = await connect(defaultClient(redis.url));
    await using locksA = locksOn(a);
    await using locksB = locksOn(b);
    const stale = await locksA.acquire("k", 200);
    assert.ok(stale);
    await until(async () => !await lockExists(b, "k"), 2000, "the lock did not expire");
    const fresh = await locksB.acquire("k", 5000);
    assert.ok(fresh);
    await stale.extend();
    await stale.release();
    assert.equal(await locksA.acquire("k", 5000), undefined, "the new holder still holds it");
    assert.ok(await b.pTTL(`${PREFIX}lock:k`) > 4000, "its TTL untouched");
    await fresh.release();
    assert.equal(await lockExists(a, "k"), false);
  },
);

Deno.test(
  "RedisFlightLocks: extend() takes back an expired lock nobody else took",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using locksA = locksOn(a);
    const lock = await locksA.acquire("k", 200);
    assert.ok(lock);
    await until(async () => !await lockExists(a, "k"), 2000, "the lock did not expire");
    await lock.extend();
    assert.equal(await locksA.acquire("k", 200), undefined);
    await lock.release();
    assert.equal(await lockExists(a, "k"), false);
  },
);

Deno.test(
  "RedisFlightLocks.acquire() that timed out leaves no lock behind",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using a = await connect(defaultClient(redis.url));
    await using control = await connect(defaultClient(redis.url));
    await using locksA = locksOn(a);
    await control.sendCommand(["CLIENT", "PAUSE", "800", "ALL"]); // Redis answers late
    await assert.rejects(locksA.acquire("k", 10_000), /no answer to SET within 500 ms/);
    await control.sendCommand(["CLIENT", "UNPAUSE"]);
    // The late SET took the lock after all; the cleanup queued behind it removes it.
    await until(async () => !await lockExists(a, "k"), 2000, "a lock nobody holds is left");
  },
);

Deno.test(
  "RedisFlightLocks fails open while Redis is down, and recovers",
  needs("redis-server"),
  async (t) => {
    await using redis = await startRedis();
    const variants: [
      string,
      () => Promise<{ locks: RedisFlightLocks; client?: { destroy(): void } }>,
    ][] = [
      ["with a client that queues commands offline", async () => {
        const client = await connect(defaultClient(redis.url));
        return { locks: new RedisFlightLocks(client, { prefix: PREFIX }), client };
      }],
      ["with a client like the store's (no offline queue, RESP 2)", async () => {
        const client = await connect(storeLikeClient(redis.url));
        return { locks: new RedisFlightLocks(client, { prefix: PREFIX }), client };
      }],
      [
        "with its own client from a URL",
        () => Promise.resolve({ locks: new RedisFlightLocks(redis.url, { prefix: PREFIX }) }),
      ],
    ];
    for (const [name, open] of variants) {
      await t.step(name, async () => {
        const { locks, client } = await open();
        try {
          await outage(redis, locks);
        } finally {
          await locks.close();
          client?.destroy();
        }
      });
    }
  },
);

async function outage(redis: RedisServer, locks: RedisFlightLocks): Promise<void> {
  const acquired = async (key: string) => await locks.acquire(key, 1000).catch(() => undefined);
  await until(async () => await acquired("up") !== undefined, 3000, "no lock before the outage");
  const [released, extended] = [
    await locks.acquire("k", 10_000),
    await locks.acquire("k1", 10_000),
  ];
  assert.ok(released && extended);
  await redis.stop();
  try {
    const [failed, waited] = await within(
      3000,
      Promise.all([
        timed(assert.rejects(locks.acquire("k2", 1000))),
        timed(assert.rejects(locks.follow("k", new AbortController().signal))),
        released.release(), // never rejects
        assert.rejects(extended.extend()),
      ]),
    );
    assert.ok(failed < 2000, `acquire() rejected after ${Math.round(failed)} ms`);
    assert.ok(waited < 2000, `follow() rejected after ${Math.round(waited)} ms`);
  } finally {
    await redis.start();
  }
  await until(async () => await acquired("k3") !== undefined, 8000, "no lock after the outage");
}
