/**
 * End-to-end tests of `llm-cache-proxy serve` as a real subprocess, started with exactly the
 * permission flags of the `start` task in deno.json.
 */
import assert from "node:assert/strict";
import { joinChunks } from "../../src/cache/recorder.ts";
import { DatabaseSync } from "node:sqlite";
import { type MockAnthropic, startMockAnthropic } from "../support/mock_anthropic.ts";
import { messageBody } from "../support/proxy.ts";
import { runServe, type ServeProcess, spawnServe } from "../support/process.ts";
import { tempHome } from "../support/harness.ts";
import { assertAnswers, sseEvents } from "../support/answers.ts";

const decoder = new TextDecoder();

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function post(
  base: string,
  body: string,
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": "sk-ant-client-key",
      ...init.headers,
    },
    body,
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

function integrityCheck(dbPath: string): { integrity: string; entries: number } {
  const db = new DatabaseSync(dbPath);
  try {
    const integrity = db.prepare("PRAGMA integrity_check").all().map((r) =>
      String(r.integrity_check)
    ).join("; ");
    const entries = Number(db.prepare("SELECT count(*) AS n FROM entries").get()?.n);
    return { integrity, entries };
  } finally {
    db.close();
  }
}

/**
 * Checks a copy of the database as a crash left it (main file, WAL and shared memory), so that
 * the proxy itself still recovers the original.
 */
async function crashStateCheck(home: string): Promise<{ integrity: string; entries: number }> {
  const copy = `${home}/crash-copy`;
  await Deno.remove(copy, { recursive: true }).catch(() => {});
  await Deno.mkdir(copy);
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.copyFile(`${home}/cache.db${suffix}`, `${copy}/cache.db${suffix}`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound) || suffix === "") throw e;
    });
  }
  try {
    return integrityCheck(`${copy}/cache.db`);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
}

/** The proxy against `upstream` on `home`, logging at info. */
function serve(home: string, upstream: string, env: Record<string, string> = {}) {
  return spawnServe({ CACHE_HOME: home, CACHE_PORT: "0", CACHE_UPSTREAM: upstream, ...env });
}

async function stopCleanly(proxy: ServeProcess): Promise<void> {
  const out = await proxy.stop("SIGTERM");
  assert.equal(out.code, 0, `serve exits 0 on SIGTERM; stderr: ${out.stderr}`);
  assert.doesNotMatch(out.stderr, /Unexpected failure/);
}

// ---------------------------------------------------------------------------------------------
// 1. kill -9 atomicity

const BIG = 400_000;
const PER_ROUND = 16;
/**
 * Where each round's kill lands: once the client has received this fraction of `PER_ROUND * BIG`
 * answer bytes (the whole round is about 1.03). The JSON answers end between about 0.2 and 0.6,
 * the SSE ones (100 events each) after 0.99, and each answer is stored just before its client
 * sees its end, so the kills spread over before any write, among the JSON writes and among the
 * SSE writes.
 */
const KILL_AT = [0.1, 0.3, 0.45, 0.55, 0.9, 0.99, 1, 1.005, 1.01, 1.02];

interface BigRequest {
  readonly prompt: string;
  readonly stream: boolean;
  readonly body: string;
}

type FirstTry =
  | { readonly kind: "complete"; readonly status: number; readonly bytes: Uint8Array }
  | { readonly kind: "cut"; readonly reason: string };

Deno.test("kill -9 while answers are being stored never leaves a torn or mixed entry", async () => {
  await using home = await tempHome("serve_test_");
  const dbPath = `${home.path}/cache.db`;
  let completed = 0;
  let cut = 0;
  let hits = 0;
  for (const [round, fraction] of KILL_AT.entries()) {
    const requests: BigRequest[] = Array.from({ length: PER_ROUND }, (_, i) => {
      const prompt = `[mock:big:${BIG}] kill round ${round} request ${i} id ${crypto.randomUUID()}`;
      const stream = i % 2 === 1;
      return { prompt, stream, body: messageBody(prompt, { stream }) };
    });

    // Phase 1: answers flow through the proxy and into the store; kill -9 somewhere in there.
    let upstream: string;
    let first: FirstTry[];
    {
      await using mock = await startMockAnthropic();
      upstream = mock.url;
      await using proxy = await serve(home.path, upstream);
      let received = 0;
      const trigger = Promise.withResolvers<void>();
      const attempts = requests.map(async (req): Promise<FirstTry> => {
        try {
          const res = await post(proxy.url, req.body);
          const chunks: Uint8Array[] = [];
          for await (const chunk of res.body!) {
            chunks.push(chunk);
            received += chunk.byteLength;
            if (received >= fraction * PER_ROUND * BIG) trigger.resolve();
          }
          return { kind: "complete", status: res.status, bytes: joinChunks(chunks) };
        } catch (e) {
          return { kind: "cut", reason: String(e) };
        }
      });
      const all = Promise.all(attempts);
      await Promise.race([trigger.promise, all]);
      const out = await proxy.stop("SIGKILL");
      assert.equal(out.signal, "SIGKILL", `round ${round}: the proxy was killed`);
      first = await all;
    }
    for (const [i, result] of first.entries()) {
      if (result.kind !== "complete") continue;
      // A body that ended without error must be whole and ours, kill or no kill.
      const req = requests[i]!;
      const where = `round ${round} request ${i} (${req.stream ? "SSE" : "JSON"}) before the kill`;
      assert.equal(
        result.status,
        200,
        `${where}: ${decoder.decode(result.bytes.subarray(0, 300))}`,
      );
      assertAnswers(result.bytes, req.prompt, BIG, req.stream, where);
    }
    completed += first.filter((r) => r.kind === "complete").length;
    cut += first.filter((r) => r.kind === "cut").length;
    const crash = await crashStateCheck(home.path);
    assert.equal(crash.integrity, "ok", `round ${round}: PRAGMA integrity_check after kill -9`);

    // Phase 2: same CACHE_HOME and upstream, which is now unreachable: whatever is a HIT must be
    // the complete answer to that very request; anything else is a 502 miss.
    const hitsBefore = hits;
    {
      await using proxy = await serve(home.path, upstream);
      const entries = crash.entries === 1 ? "1 entry" : `${crash.entries} entries`;
      assert.match(proxy.listening, new RegExp(`\\(${entries}\\)`));
      const again = await Promise.all(requests.map(async (req) => {
        const res = await post(proxy.url, req.body);
        return { label: res.headers.get("x-cache"), status: res.status, bytes: await res.bytes() };
      }));
      for (const [i, res] of again.entries()) {
        const req = requests[i]!;
        const where = `round ${round} request ${i} (${req.stream ? "SSE" : "JSON"})`;
        if (res.label === "HIT") {
          hits++;
          assert.equal(res.status, 200, where);
          assertAnswers(res.bytes, req.prompt, BIG, req.stream, `${where} after restart`);
          const before = first[i]!;
          if (before.kind === "complete") {
            assert.deepEqual(res.bytes, before.bytes, `${where}: replay is byte-identical`);
          }
        } else {
          assert.equal(res.label, "MISS", where);
          assert.equal(res.status, 502, `${where}: a miss goes to the unreachable upstream`);
          // A client sees the end of a body only after it was committed.
          assert.notEqual(first[i]!.kind, "complete", `${where}: a completed answer was lost`);
        }
      }
      if (Deno.env.get("SERVE_TEST_DEBUG")) {
        const shape = first.map((r, i) =>
          r.kind === "complete" ? "C" : again[i]!.label === "HIT" ? "s" : "x"
        ).join("");
        console.log(`round ${round}: ${shape} stored ${hits - hitsBefore}`);
      }
      await stopCleanly(proxy);
    }
    // Every entry the crash left is one of this test's requests, replayed whole above.
    assert.equal(crash.entries, hits, `round ${round}: entries after the kill`);
    assert.equal(integrityCheck(dbPath).integrity, "ok", `round ${round}: integrity after restart`);
  }
  assert.ok(hits > 0, "some answers were stored across the rounds");
  assert.ok(completed > 0, "some answers completed before a kill");
  assert.ok(cut > 0, "some kill interrupted answers in flight");
});

// ---------------------------------------------------------------------------------------------
// 2. Start-up configuration errors

Deno.test("bad configuration exits 2 with one line naming the variable and value", async () => {
  const cases: { env: Record<string, string>; dotenv?: string; names: string[] }[] = [
    { env: { CACHE_PORT: "abc" }, names: ["CACHE_PORT", '"abc"'] },
    { env: { CACHE_TTL_SEC: "-1" }, names: ["CACHE_TTL_SEC", '"-1"'] },
    { env: { CACHE_UPSTREAM: "not a url" }, names: ["CACHE_UPSTREAM", '"not a url"'] },
    { env: { CACHE_HOST: "0.0.0.0" }, names: ["CACHE_HOST", "0.0.0.0", "CACHE_AUTH_TOKEN"] },
    { env: {}, dotenv: "CACHE_TTL_SEC=abc\n", names: ["CACHE_TTL_SEC", '"abc"'] },
  ];
  await Promise.all(cases.map(async ({ env, dotenv, names }) => {
    await using home = await tempHome("serve_test_");
    if (dotenv !== undefined) await Deno.writeTextFile(`${home.path}/.env`, dotenv);
    const out = await runServe({ CACHE_HOME: home.path, CACHE_PORT: "0", ...env });
    const what = `${JSON.stringify(env)} .env=${JSON.stringify(dotenv)}`;
    assert.equal(out.code, 2, `${what}: exit code; stderr: ${out.stderr}`);
    const lines = out.stderr.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, `${what}: one stderr line, got ${JSON.stringify(out.stderr)}`);
    for (const name of names) assert.ok(lines[0]!.includes(name), `${what}: mentions ${name}`);
    assert.equal(out.stdout, "", `${what}: nothing on stdout`);
    await assert.rejects(Deno.stat(`${home.path}/cache.db`), Deno.errors.NotFound);
  }));
});

Deno.test("the environment overrides $CACHE_HOME/.env, which fills in what it lacks", async () => {
  await using home = await tempHome("serve_test_");
  const fromDotenv = "http://127.0.0.1:8/from-dotenv";
  await Deno.writeTextFile(
    `${home.path}/.env`,
    `CACHE_TTL_SEC=abc\nCACHE_UPSTREAM=${fromDotenv}\n`,
  );
  await using proxy = await spawnServe({
    CACHE_HOME: home.path,
    CACHE_PORT: "0",
    CACHE_TTL_SEC: "60",
  });
  assert.match(proxy.listening, new RegExp(`upstream ${fromDotenv.replaceAll(".", "\\.")}`));
  await stopCleanly(proxy);
});

// ---------------------------------------------------------------------------------------------
// 3. Reachable on localhost, both families

Deno.test("the default host answers /health on 127.0.0.1 and [::1]", async () => {
  await using home = await tempHome("serve_test_");
  await using proxy = await spawnServe({ CACHE_HOME: home.path, CACHE_PORT: "0" });
  assert.ok(proxy.url6, `listening line names [::1]: ${proxy.listening}`);
  assert.notEqual(proxy.port, 0);
  for (const base of [proxy.url, proxy.url6]) {
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200, base);
    const health = await res.json();
    assert.deepEqual([health.status, health.pid], ["ok", proxy.child.pid], base);
  }
  await stopCleanly(proxy);
});

// ---------------------------------------------------------------------------------------------
// 4. Stop signals

/** Sends `signal` and asserts a clean, prompt exit. */
async function assertStops(proxy: ServeProcess, signal: Deno.Signal, what: string): Promise<void> {
  const started = performance.now();
  const out = await proxy.stop(signal);
  const ms = performance.now() - started;
  assert.equal(out.code, 0, `${what}: exit code (signal ${out.signal}); stderr: ${out.stderr}`);
  assert.ok(ms < 2000, `${what}: exited after ${Math.round(ms)} ms`);
  assert.match(out.stdout, /Stopping/, what);
  assert.equal(out.stderr, "", what);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} stops the proxy promptly with exit code 0`, async () => {
    await using home = await tempHome("serve_test_");
    // Right after the "listening" line, as a supervisor waiting for it would.
    for (let i = 0; i < 4; i++) {
      await using proxy = await spawnServe({ CACHE_HOME: home.path, CACHE_PORT: "0" });
      await assertStops(proxy, signal, `${signal} right after start-up #${i + 1}`);
    }
    // With a kept-alive client connection open, which must not hold the exit back.
    await using proxy = await spawnServe({ CACHE_HOME: home.path, CACHE_PORT: "0" });
    const res = await fetch(`${proxy.url}/health`);
    await res.body?.cancel();
    await assertStops(proxy, signal, `${signal} with an idle connection`);
  });
}

// ---------------------------------------------------------------------------------------------
// 5. Restart

Deno.test("the cache survives a restart and cache.db is private", async () => {
  await using home = await tempHome("serve_test_");
  await using mock = await startMockAnthropic();
  const body = messageBody(`restart ${crypto.randomUUID()}`);
  let firstBytes: Uint8Array;
  {
    await using proxy = await serve(home.path, mock.url);
    const res = await post(proxy.url, body);
    firstBytes = await res.bytes();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-cache"), "MISS");
    await stopCleanly(proxy);
  }
  {
    await using proxy = await serve(home.path, mock.url);
    assert.match(proxy.listening, /\(1 entry\)/);
    const res = await post(proxy.url, body);
    const bytes = await res.bytes();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-cache"), "HIT");
    assert.deepEqual(bytes, firstBytes, "byte-identical replay");
    await stopCleanly(proxy);
  }
  assert.equal(mock.count("/v1/messages"), 1);
  const mode = (await Deno.stat(`${home.path}/cache.db`)).mode;
  assert.equal((mode ?? 0) & 0o777, 0o600, `cache.db mode ${((mode ?? 0) & 0o777).toString(8)}`);
});

// ---------------------------------------------------------------------------------------------
// 6. Client disconnect mid-stream

Deno.test("a client leaving mid-stream neither crashes the proxy nor stores half a stream", async () => {
  await using home = await tempHome("serve_test_");
  await using mock = await startMockAnthropic();
  await using proxy = await serve(home.path, mock.url);
  const prompt = `[mock:slow:50] disconnect ${crypto.randomUUID()}`;
  const body = messageBody(prompt, { stream: true });
  const promptCalls = (m: MockAnthropic) => m.calls.filter((c) => c.text.includes(prompt)).length;

  const abort = new AbortController();
  const res = await post(proxy.url, body, { signal: abort.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-cache"), "MISS");
  const reader = res.body!.getReader();
  const chunk = await reader.read();
  assert.ok(!chunk.done && decoder.decode(chunk.value).startsWith("event: message_start"));
  abort.abort();
  await reader.read().catch(() => {});
  await reader.cancel().catch(() => {});

  // Still serving, still alive.
  const health = await fetch(`${proxy.url}/health`);
  assert.equal((await health.json()).status, "ok");
  const other = await post(proxy.url, messageBody(`other ${crypto.randomUUID()}`));
  assert.equal(other.status, 200);
  assert.equal((await other.json()).type, "message");
  await delay(100);
  assert.ok(proxy.alive(), "the proxy is still running");

  // The half stream was not stored: the repeat goes upstream again, and is then stored whole.
  const repeat = await post(proxy.url, body);
  const whole = await repeat.text();
  assert.equal(repeat.headers.get("x-cache"), "MISS");
  assert.equal(sseEvents(whole).at(-1)?.event, "message_stop");
  assert.equal(promptCalls(mock), 2);
  const third = await post(proxy.url, body);
  assert.equal(third.headers.get("x-cache"), "HIT");
  assert.equal(await third.text(), whole);
  assert.equal(promptCalls(mock), 2);
  assert.ok(proxy.alive());
  await stopCleanly(proxy);
});

Deno.test("the ledger's all-time totals survive kill -9, losing at most the last second", async () => {
  await using home = await tempHome("serve_test_");
  await using mock = await startMockAnthropic();
  const body = messageBody(`ledger ${crypto.randomUUID()}`);
  {
    await using proxy = await serve(home.path, mock.url);
    for (let i = 0; i < 5; i++) await (await post(proxy.url, body)).arrayBuffer();
    await delay(1500); // past one flush of the ledger
    for (let i = 0; i < 3; i++) await (await post(proxy.url, body)).arrayBuffer(); // may be lost
    const output = await proxy.stop("SIGKILL");
    assert.equal(output.signal, "SIGKILL");
  }
  {
    await using proxy = await serve(home.path, mock.url);
    const stats = await (await fetch(`${proxy.url}/stats`)).json();
    assert.ok(stats.calls >= 5 && stats.calls <= 8, `all-time calls ${stats.calls}`);
    assert.ok(stats.hits >= 4, `all-time hits ${stats.hits}`);
    assert.equal(stats.session.calls, 0, "a new session starts at zero");
    await stopCleanly(proxy);
  }
});
