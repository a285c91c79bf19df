/**
 * A fleet: real proxy processes sharing one real redis-server. One upstream call for a burst split
 * across instances, takeover when the lock holder dies, and failing open while Redis is down.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { spawnServe } from "../support/process.ts";
import { messageBody } from "../support/proxy.ts";
import { startRedis } from "../support/redis.ts";
import { startRelay } from "../support/relay.ts";
import { runCli } from "../support/cli.ts";
import { eventually, freePort, tempHome } from "../support/harness.ts";
import { needs } from "../support/tools.ts";

function post(base: string, body: string): Promise<Response> {
  return fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body,
  });
}

async function call(base: string, body: string): Promise<{ kind: string | null; text: string }> {
  const res = await post(base, body);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return { kind: res.headers.get("x-cache"), text };
}

/** Two proxy processes with their own homes on one Redis, before one mock upstream. */
async function startFleet(env: Record<string, string> = {}) {
  const stack = new AsyncDisposableStack();
  try {
    const redis = stack.use(await startRedis());
    const mock = stack.use(await startMockAnthropic());
    const shared = { CACHE_STORE: redis.url, CACHE_UPSTREAM: mock.url, CACHE_PORT: "0", ...env };
    const home = async () => stack.use(await tempHome("fleet_")).path;
    const a = stack.use(await spawnServe({ ...shared, CACHE_HOME: await home() }));
    const b = stack.use(await spawnServe({ ...shared, CACHE_HOME: await home() }));
    const moved = stack.move();
    return { redis, mock, a, b, [Symbol.asyncDispose]: () => moved.disposeAsync() };
  } catch (e) {
    await stack.disposeAsync();
    throw e;
  }
}

/** One proxy process on `store` (a Redis URL), before its own mock upstream. */
async function startSolo(store: string) {
  const stack = new AsyncDisposableStack();
  try {
    const mock = stack.use(await startMockAnthropic());
    const home = stack.use(await tempHome("fleet_"));
    const proxy = stack.use(
      await spawnServe({
        CACHE_HOME: home.path,
        CACHE_STORE: store,
        CACHE_UPSTREAM: mock.url,
        CACHE_PORT: "0",
      }),
    );
    const moved = stack.move();
    return { mock, proxy, [Symbol.asyncDispose]: () => moved.disposeAsync() };
  } catch (e) {
    await stack.disposeAsync();
    throw e;
  }
}

const storeOf = async (base: string) => (await (await fetch(`${base}/health`)).json()).store;

Deno.test(
  "a burst split across two instances on one Redis makes one upstream call",
  needs("redis-server"),
  async () => {
    await using fleet = await startFleet();
    const { mock, a, b } = fleet;
    const body = messageBody("[mock:slow:40] one answer for the fleet", { stream: true });
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(i % 2 === 0 ? a.url : b.url, body)),
    );
    assert.equal(mock.count("/v1/messages"), 1, "exactly one upstream call");
    const kinds = burst.map((r) => r.kind).sort();
    assert.deepEqual(kinds, ["HIT-COALESCED", ...Array(8).fill("HIT-COALESCED"), "MISS"].sort());
    for (const r of burst) assert.equal(r.text, burst[0]!.text, "every client got the same bytes");
    assert.match(burst[0]!.text, /event: message_stop/);
    // Both instances now hit what one of them paid for, and report the fleet's totals.
    assert.equal((await call(b.url, body)).kind, "HIT");
    assert.equal((await call(a.url, body)).kind, "HIT");
    const totals = await eventually("the ledgers to share their counts", async () => {
      const [sa, sb] = await Promise.all(
        [a.url, b.url].map(async (u) => await (await fetch(`${u}/stats`)).json()),
      );
      return sa.calls === 12 && sb.calls === 12 ? [sa, sb] : undefined;
    });
    assert.deepEqual(
      totals.map((t) => t.session.calls).sort(),
      [6, 6],
      "each keeps its own session",
    );
  },
);

Deno.test(
  "when the instance holding the lock dies before its answer, another takes over and shares its call",
  needs("redis-server"),
  async () => {
    await using fleet = await startFleet({ CACHE_LOCK_SEC: "1" });
    const { mock, a, b } = fleet;
    // The answer comes after 1 s (no head before), and is a 429: never stored, so only a shared
    // call, never a replay, can serve B's three waiters with one upstream call.
    const body = messageBody("[mock:429:1000] the holder dies");
    const doomed = post(a.url, body).then((res) => res.text()).catch(() => "cut");
    await eventually("A to call upstream", () => Promise.resolve(mock.count() === 1 || undefined));
    await a.stop("SIGKILL");
    await doomed;
    const started = performance.now();
    const taken = await Promise.all(Array.from({ length: 3 }, async () => {
      const res = await post(b.url, body);
      return { status: res.status, kind: res.headers.get("x-cache"), text: await res.text() };
    }));
    const waited = performance.now() - started;
    assert.equal(mock.count("/v1/messages"), 2, "B went upstream once for its three waiters");
    assert.deepEqual(taken.map((r) => r.kind).sort(), ["HIT-COALESCED", "HIT-COALESCED", "MISS"]);
    for (const r of taken) assert.deepEqual([r.status, r.text], [429, taken[0]!.text]);
    assert.ok(waited < 8_000, `B waited ${waited} ms: at most about a lock TTL, then the answer`);
  },
);

Deno.test(
  "a follower on another instance streams the leader's answer as it arrives, and a late one from the start",
  needs("redis-server"),
  async () => {
    await using fleet = await startFleet();
    const { mock, a, b } = fleet;
    const body = messageBody("[mock:slow:150] streamed across the fleet", { stream: true });
    const leader = await post(a.url, body);
    assert.equal(leader.headers.get("x-cache"), "MISS");
    let leaderEnded = false;
    const leaderText = leader.text().finally(() => leaderEnded = true);
    await eventually("A to call upstream", () => Promise.resolve(mock.count() === 1 || undefined));
    const follower = await post(b.url, body);
    assert.equal(follower.headers.get("x-cache"), "HIT-COALESCED");
    // Its first bytes come while the leader's answer is still running upstream.
    const reader = follower.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length > 0);
    assert.equal(mock.count("/v1/messages"), 1);
    assert.equal(leaderEnded, false, "the first bytes came before the leader's answer ended");
    const late = await post(b.url, body);
    let rest = "";
    const decoder = new TextDecoder();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += decoder.decode(r.value, { stream: true });
    }
    const followed = decoder.decode(first.value) + rest;
    assert.equal(followed, await leaderText, "the same bytes as the leader's client");
    assert.equal(
      await late.text(),
      followed,
      "a late follower gets the chunks so far, then the rest",
    );
    assert.equal(mock.count("/v1/messages"), 1);
  },
);

Deno.test(
  "an upstream failure reaches every waiting instance with the same status and body",
  needs("redis-server"),
  async () => {
    await using fleet = await startFleet({ CACHE_STALE_SEC: "0" });
    const { mock, a, b } = fleet;
    const body = messageBody("[mock:429:1000] rate limited");
    const leader = post(a.url, body);
    await eventually("A to call upstream", () => Promise.resolve(mock.count() === 1 || undefined));
    const waiting = Array.from({ length: 3 }, () => post(b.url, body));
    const answers = await Promise.all([leader, ...waiting].map(async (p) => {
      const res = await p;
      return { status: res.status, text: await res.text(), kind: res.headers.get("x-cache") };
    }));
    assert.equal(mock.count("/v1/messages"), 1, "one upstream call for the four");
    for (const r of answers) {
      assert.equal(r.status, 429);
      assert.equal(r.text, answers[0]!.text);
    }
    assert.deepEqual(answers.map((r) => r.kind).sort(), [
      "HIT-COALESCED",
      "HIT-COALESCED",
      "HIT-COALESCED",
      "MISS",
    ]);
  },
);

Deno.test(
  "a follower of a leader that dies mid-answer gets a cut stream, never a wrong one",
  needs("redis-server"),
  async () => {
    await using fleet = await startFleet({ CACHE_LOCK_SEC: "1" });
    const { mock, a, b } = fleet;
    const body = messageBody("[mock:slow:300] cut short", { stream: true });
    const leader = await post(a.url, body);
    const leaderText = leader.text().catch(() => "cut");
    await eventually("A to call upstream", () => Promise.resolve(mock.count() === 1 || undefined));
    const follower = await post(b.url, body);
    const reader = follower.body!.getReader();
    await reader.read();
    await a.stop("SIGKILL");
    await assert.rejects(async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read());
    });
    assert.equal(await leaderText, "cut");
    // Nothing was stored: the next call goes upstream.
    assert.equal((await call(b.url, messageBody("[mock:slow:300] cut short"))).kind, "MISS");
  },
);

Deno.test(
  "Redis down at start or mid-run: every call still reaches Anthropic; caching resumes",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using mock = await startMockAnthropic();
    await using home = await tempHome("fleet_");
    await redis.stop();
    const env = {
      CACHE_HOME: home.path,
      CACHE_STORE: redis.url,
      CACHE_UPSTREAM: mock.url,
      CACHE_PORT: String(freePort()),
    };
    await using proxy = await spawnServe(env);
    assert.match(proxy.listening, /unreachable: bypassing until it is back/);
    assert.equal(await storeOf(proxy.url), "degraded");
    const body = messageBody("fail open");
    assert.equal((await call(proxy.url, body)).kind, "BYPASS");

    await redis.start();
    await eventually(
      "the store to come back",
      async () => (await storeOf(proxy.url)) === "ok" || undefined,
    );
    assert.equal((await call(proxy.url, body)).kind, "MISS");
    assert.equal((await call(proxy.url, body)).kind, "HIT");

    await redis.stop(); // mid-run
    const first = await call(proxy.url, body);
    assert.ok(
      ["BYPASS", "MISS"].includes(first.kind!),
      `the call that meets the outage: ${first.kind}`,
    );
    for (let i = 0; i < 3; i++) assert.equal((await call(proxy.url, body)).kind, "BYPASS");
    assert.equal(await storeOf(proxy.url), "degraded");
    const status = await runCli(["status"], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /cache store unreachable: every call bypasses it/);
    assert.equal(
      JSON.parse((await runCli(["status", "--json"], { env })).stdout).store,
      "degraded",
    );

    await redis.start(); // a new, empty Redis
    await eventually(
      "the store to come back",
      async () => (await storeOf(proxy.url)) === "ok" || undefined,
    );
    assert.equal((await call(proxy.url, body)).kind, "MISS");
    assert.equal((await call(proxy.url, body)).kind, "HIT");

    const out = await proxy.stop();
    const log = out.stdout + out.stderr;
    assert.equal(log.match(/Cache store unreachable/g)?.length, 2, "one warning per outage");
    assert.equal(log.match(/Cache store is back/g)?.length, 2);
    assert.equal(
      mock.count("/v1/messages"),
      1 + 1 + 4 + 1,
      "nothing failed: every call was served",
    );
  },
);

Deno.test(
  "while Redis is down, identical concurrent calls to one instance still share one upstream call",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await redis.stop();
    await using solo = await startSolo(redis.url);
    const { mock, proxy } = solo;
    assert.equal(await storeOf(proxy.url), "degraded");
    const body = messageBody("[mock:slow:40] coalesced during an outage", { stream: true });
    const burst = await Promise.all(Array.from({ length: 4 }, () => call(proxy.url, body)));
    assert.equal(mock.count("/v1/messages"), 1, "one upstream call for the four");
    assert.deepEqual(
      burst.map((r) => r.kind).sort(),
      ["BYPASS", "HIT-COALESCED", "HIT-COALESCED", "HIT-COALESCED"],
    );
    for (const r of burst) assert.equal(r.text, burst[0]!.text);
    // A deliberate bypass is never coalesced.
    const headers = {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-cache-bypass": "1",
    };
    await Promise.all(Array.from({ length: 2 }, async () => {
      const res = await fetch(`${proxy.url}/v1/messages`, { method: "POST", headers, body });
      await res.text();
    }));
    assert.equal(mock.count("/v1/messages"), 3);
  },
);

Deno.test(
  "a Redis connection that goes silent is abandoned: the proxy recovers once Redis answers again",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using relay = startRelay(redis.port); // swallows the handshake
    await using solo = await startSolo(`redis://127.0.0.1:${relay.port}`);
    const { proxy } = solo;
    assert.equal(await storeOf(proxy.url), "degraded");
    relay.forward();
    await eventually(
      "the store to come back",
      async () => await storeOf(proxy.url) === "ok" || undefined,
    );
    const body = messageBody("behind a relay");
    assert.equal((await call(proxy.url, body)).kind, "MISS");
    assert.equal((await call(proxy.url, body)).kind, "HIT");

    relay.swallow(); // the open connection goes silent mid-run: commands get no reply
    await call(proxy.url, body); // served all the same, from upstream
    await eventually("the outage to be seen", async () => {
      await call(proxy.url, body);
      return await storeOf(proxy.url) === "degraded" || undefined;
    });
    relay.forward();
    await eventually(
      "the store to come back",
      async () => await storeOf(proxy.url) === "ok" || undefined,
    );
    assert.equal((await call(proxy.url, body)).kind, "HIT");
  },
);

Deno.test(
  "an instance with a smaller cap or no stale window cannot shrink the fleet's cache",
  needs("redis-server"),
  async () => {
    await using redis = await startRedis();
    await using mock = await startMockAnthropic();
    const shared = { CACHE_STORE: redis.url, CACHE_UPSTREAM: mock.url, CACHE_PORT: "0" };
    await using homeA = await tempHome("fleet_");
    await using homeB = await tempHome("fleet_");
    await using a = await spawnServe({ ...shared, CACHE_HOME: homeA.path });
    await using b = await spawnServe({
      ...shared,
      CACHE_HOME: homeB.path,
      CACHE_MAX_ENTRIES: "2",
      CACHE_STALE_SEC: "0",
    });
    const bodies = Array.from({ length: 4 }, (_, i) => messageBody(`kept by the fleet ${i}`));
    for (const body of bodies) assert.equal((await call(b.url, body)).kind, "MISS");
    for (const body of bodies) assert.equal((await call(a.url, body)).kind, "HIT");
    const out = await b.stop();
    assert.match(
      out.stdout + out.stderr,
      /CACHE_MAX_ENTRIES is 2 here, but the fleet's Redis caps/,
    );
    assert.match(out.stdout + out.stderr, /CACHE_STALE_SEC is 0 here, but another instance keeps/);
  },
);

Deno.test(
  "a follower whose clients all leave stops reading the leader's answer",
  needs("redis-server"),
  async () => {
    await using fleet = await startFleet();
    const { mock, a, b, redis } = fleet;
    const raw = createClient({ url: redis.url, RESP: 2 });
    await raw.connect();
    try {
      const clients = async () => String(await raw.sendCommand(["CLIENT", "LIST"])).split("\n");
      const reading = async () => (await clients()).filter((c) => /cmd=xread/.test(c)).length;
      const body = messageBody("[mock:slow:200] left early", { stream: true });
      const leader = await post(a.url, body);
      let leaderEnded = false;
      const leaderText = leader.text().finally(() => leaderEnded = true);
      await eventually(
        "A to call upstream",
        () => Promise.resolve(mock.count() === 1 || undefined),
      );
      const follower = await post(b.url, body);
      const reader = follower.body!.getReader();
      await reader.read();
      await eventually("B to read the stream", async () => await reading() > 0 || undefined);
      await reader.cancel();
      await eventually("B to stop reading", async () => await reading() === 0 || undefined);
      assert.equal(leaderEnded, false, "B stopped before the answer ended, not with it");
      assert.match(await leaderText, /event: message_stop/, "the leader's client is not affected");
    } finally {
      raw.destroy();
    }
  },
);

Deno.test(
  "when the leader's own clients all leave, its call goes on for a follower on another instance",
  needs("redis-server"),
  async () => {
    await using fleet = await startFleet();
    const { mock, a, b } = fleet;
    const body = messageBody("[mock:slow:100] the leader's client leaves", { stream: true });
    const leaving = new AbortController();
    const leader = await fetch(`${a.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body,
      signal: leaving.signal,
    });
    await eventually("A to call upstream", () => Promise.resolve(mock.count() === 1 || undefined));
    const follower = await post(b.url, body);
    const reader = follower.body!.getReader();
    const first = await reader.read();
    leaving.abort();
    await leader.body?.cancel().catch(() => {});
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += new TextDecoder().decode(r.value);
    }
    assert.match(new TextDecoder().decode(first.value) + rest, /event: message_stop/);
    assert.equal(mock.count("/v1/messages"), 1);
    await eventually("the answer to be stored", async () => {
      const stats = await (await fetch(`${a.url}/stats`)).json();
      return stats.store?.entries === 1 || undefined;
    });
    assert.equal((await call(a.url, body)).kind, "HIT");
    assert.equal(mock.count("/v1/messages"), 1);
  },
);
