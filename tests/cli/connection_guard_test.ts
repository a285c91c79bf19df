/**
 * Client connection limits over real sockets: a raw TCP client holds half-sent
 * heads, idle keep-alive connections and connections past the cap, with
 * timeouts of a fraction of a second. No assertion needs the machine to be
 * fast: closes are awaited (with a generous deadline), and only lower bounds
 * on time are checked.
 */
import assert from "node:assert/strict";
import { ConnectionGuard, type ConnectionLimits } from "../../src/cli/connection_guard.ts";
import { createLogger } from "../../src/log.ts";
import { serveErrorHandler } from "../../src/proxy/server.ts";
import { eventually, tempHome } from "../support/harness.ts";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { baseEnv, ROOT, spawnServe } from "../support/process.ts";
import { RUN_FLAGS } from "../../scripts/compile.ts";
import { join } from "node:path";
import { rawConnect, type RawReply, readResponse, readToEnd } from "../support/raw_http.ts";

const GET = "GET / HTTP/1.1\r\nhost: x\r\n\r\n";
const STILL_OPEN_MS = 10_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const BIG = new Uint8Array(8 * 1024 * 1024).fill(0x61);
/** Resolves each time `/slow` is entered. */
let slowEntered = Promise.withResolvers<void>();

/**
 * What `handler` answers: `/slow` after 600 ms, `/stream` six chunks 100 ms
 * apart, `/big` 8 MiB, `/throw` throws, else "ok".
 */
async function handler(req: Request): Promise<Response> {
  const path = new URL(req.url).pathname;
  if (path === "/slow") {
    slowEntered.resolve();
    await delay(600);
    return new Response("slow ok");
  }
  if (path === "/big") return new Response(BIG);
  if (path === "/throw") throw new Error("handler bug");
  if (path === "/stream") {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await delay(100);
        if (sent++ === 6) controller.close();
        else controller.enqueue(new TextEncoder().encode(`part ${sent};`));
      },
    });
    return new Response(body);
  }
  return new Response("ok");
}

function startGuarded(limits: Partial<ConnectionLimits>) {
  const lines: string[] = [];
  const log = createLogger("debug", (line) => lines.push(line));
  const guard = new ConnectionGuard(handler, {
    limits: { headerTimeoutMs: 0, idleTimeoutMs: 0, maxConnections: 0, ...limits },
    log,
    onError: serveErrorHandler(log),
  });
  const server = guard.listen("127.0.0.1", 0);
  return {
    port: server.addr.port,
    lines,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Reads until the server closes `conn`; "still open" after {@link STILL_OPEN_MS}. */
async function untilClosed(conn: Deno.Conn): Promise<RawReply | "still open"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<"still open">((resolve) => {
    timer = setTimeout(() => resolve("still open"), STILL_OPEN_MS);
  });
  try {
    const reply = await Promise.race([readToEnd(conn), open]);
    if (reply === "still open") conn.close();
    return reply;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a connection that does not finish its request head in time is closed", async (t) => {
  await using server = startGuarded({ headerTimeoutMs: 300, idleTimeoutMs: 60_000 });
  for (
    const [name, sent] of [["half-sent head", "GET / HTTP/1.1\r\nhost: x\r\n"], ["silent", ""]]
  ) {
    await t.step(name!, async () => {
      const started = performance.now();
      const closed = await untilClosed(await rawConnect(server.port, sent));
      assert.notEqual(closed, "still open");
      assert.ok(performance.now() - started >= 290, "not before the header timeout");
    });
  }
  await t.step("a whole head in time is answered, however slow the answer", async () => {
    const conn = await rawConnect(server.port, "GET /slow HTTP/1.1\r\nhost: x\r\n\r\n");
    const reply = await readResponse(conn);
    conn.close();
    assert.equal(reply.status, 200);
    assert.match(reply.text, /slow ok$/);
  });
});

Deno.test("a kept-alive connection is closed once idle, never while an answer streams", async (t) => {
  await using server = startGuarded({ headerTimeoutMs: 60_000, idleTimeoutMs: 300 });
  await t.step("idle after its response: closed", async () => {
    const conn = await rawConnect(server.port, GET);
    assert.equal((await readResponse(conn)).status, 200);
    const idle = performance.now();
    const closed = await untilClosed(conn);
    assert.notEqual(closed, "still open");
    assert.ok(performance.now() - idle >= 290, "not before the idle timeout");
  });
  await t.step("a streaming answer twice as long as the idle timeout is not cut", async () => {
    const conn = await rawConnect(server.port, "GET /stream HTTP/1.1\r\nhost: x\r\n\r\n");
    const reply = await readResponse(conn);
    assert.equal(reply.status, 200);
    assert.match(reply.text, /part 1;[\s\S]*part 6;/);
    await conn.write(new TextEncoder().encode(GET));
    assert.equal((await readResponse(conn)).status, 200, "still usable right after");
    assert.notEqual(await untilClosed(conn), "still open");
  });
  await t.step("a big answer to a client slow to read it is sent whole", async () => {
    const conn = await rawConnect(server.port, "GET /big HTTP/1.1\r\nhost: x\r\n\r\n");
    await delay(900); // three idle timeouts with the answer handed over but unread
    const reply = await readResponse(conn);
    conn.close();
    assert.equal(reply.text.length - reply.text.indexOf("\r\n\r\n") - 4, BIG.length);
  });
  await t.step("a slow answer (no byte for twice the idle timeout) is not cut", async () => {
    const conn = await rawConnect(server.port, "GET /slow HTTP/1.1\r\nhost: x\r\n\r\n");
    assert.match((await readResponse(conn)).text, /slow ok$/);
    conn.close();
  });
});

Deno.test("past the connection cap a new connection is closed at once and the open ones work", async () => {
  await using server = startGuarded({ maxConnections: 2 });
  const first = await rawConnect(server.port, GET);
  const second = await rawConnect(server.port, GET);
  for (const conn of [first, second]) assert.equal((await readResponse(conn)).status, 200);

  const third = await untilClosed(await rawConnect(server.port, GET));
  assert.notEqual(third, "still open");
  assert.equal((third as RawReply).status, 0, "closed without an answer");
  assert.equal(server.lines.filter((l) => /CACHE_MAX_CONNECTIONS=2 are open/.test(l)).length, 1);

  await second.write(new TextEncoder().encode(GET));
  assert.equal((await readResponse(second)).status, 200, "an open one still works");
  first.close();
  // Once the server has seen `first` go, a new connection gets in.
  const fourth = await eventually("a free slot", async () => {
    const conn = await rawConnect(server.port, GET);
    const reply = await readResponse(conn);
    conn.close();
    return reply.status === 200 ? reply : undefined;
  });
  assert.equal(fourth.status, 200);
  second.close();
});

Deno.test("the cap counts the connections of every address the guard listens on", async () => {
  const guard = new ConnectionGuard(handler, {
    limits: { headerTimeoutMs: 0, idleTimeoutMs: 0, maxConnections: 2 },
    log: createLogger("silent"),
    onError: serveErrorHandler(createLogger("silent")),
  });
  const servers = [guard.listen("127.0.0.1", 0), guard.listen("127.0.0.1", 0)];
  const [a, b] = servers.map((s) => s.addr.port) as [number, number];
  try {
    const open = [await rawConnect(a, GET), await rawConnect(b, GET)];
    for (const conn of open) assert.equal((await readResponse(conn)).status, 200);
    for (const port of [a, b]) {
      const extra = await untilClosed(await rawConnect(port, GET));
      assert.equal((extra as RawReply).status, 0, `over the cap on ${port}`);
    }
    for (const conn of open) conn.close();
  } finally {
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});

Deno.test("shutdown lets a response in flight finish and closes idle connections", async () => {
  const server = startGuarded({ idleTimeoutMs: 60_000 });
  const idle = await rawConnect(server.port, GET);
  assert.equal((await readResponse(idle)).status, 200);
  slowEntered = Promise.withResolvers<void>();
  const busy = await rawConnect(server.port, "GET /slow HTTP/1.1\r\nhost: x\r\n\r\n");
  await slowEntered.promise;
  const stopped = server[Symbol.asyncDispose]();
  assert.notEqual(await untilClosed(idle), "still open");
  const reply = await untilClosed(busy);
  assert.notEqual(reply, "still open");
  assert.match((reply as RawReply).text, /slow ok$/);
  await stopped;
});

Deno.test("a handler that throws gives an Anthropic-shaped 500 and a log line, limits on or off", async (t) => {
  for (const [name, limits] of [["on", { idleTimeoutMs: 60_000 }], ["off", {}]] as const) {
    await t.step(name, async () => {
      await using server = startGuarded(limits);
      const conn = await rawConnect(server.port, "GET /throw HTTP/1.1\r\nhost: x\r\n\r\n");
      const reply = await readResponse(conn);
      conn.close();
      assert.equal(reply.status, 500);
      assert.match(reply.text, /"type":"error","error":\{"type":"api_error"/);
      assert.equal(
        server.lines.filter((l) => /ERROR Unexpected failure.*handler bug/.test(l)).length,
        1,
      );
    });
  }
});

Deno.test("serve applies CACHE_HEADER_TIMEOUT_SEC, CACHE_IDLE_TIMEOUT_SEC and CACHE_MAX_CONNECTIONS", async () => {
  await using home = await tempHome();
  await using mock = await startMockAnthropic();
  await using proxy = await spawnServe({
    CACHE_HOME: home.path,
    CACHE_PORT: "0",
    CACHE_UPSTREAM: mock.url,
    CACHE_HEADER_TIMEOUT_SEC: "1",
    CACHE_IDLE_TIMEOUT_SEC: "1",
    CACHE_MAX_CONNECTIONS: "3",
  });
  const health = "GET /health HTTP/1.1\r\nhost: x\r\n\r\n";
  const halfSent = await rawConnect(proxy.port, "GET /health HTTP/1.1\r\n");
  const idle = await rawConnect(proxy.port, health);
  assert.equal((await readResponse(idle)).status, 200);
  const spare = await rawConnect(proxy.port, health);
  assert.equal((await readResponse(spare)).status, 200);
  const refused = await untilClosed(await rawConnect(proxy.port, health));
  assert.equal((refused as RawReply).status, 0, "the fourth is over the cap");
  for (const conn of [halfSent, idle, spare]) {
    assert.notEqual(await untilClosed(conn), "still open");
  }
  const out = await proxy.stop();
  assert.match(out.stdout + out.stderr, /CACHE_MAX_CONNECTIONS=3 are open/);
});

Deno.test("serve out of file descriptors says so once and serves again once some are free", async () => {
  await using home = await tempHome();
  await using mock = await startMockAnthropic();
  const logFile = join(home.path, "proxy.log");
  const serve = `ulimit -n 80 && exec "${Deno.execPath()}" run ${
    RUN_FLAGS.join(" ")
  } src/main.ts serve`;
  const child = new Deno.Command("sh", {
    args: ["-c", serve],
    cwd: ROOT,
    clearEnv: true,
    env: {
      ...baseEnv(),
      CACHE_HOME: home.path,
      CACHE_PORT: "0",
      CACHE_UPSTREAM: mock.url,
      CACHE_LOG_FILE: logFile,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const conns: Deno.Conn[] = [];
  try {
    const log = () => Deno.readTextFile(logFile).catch(() => "");
    const port = Number(
      await eventually(
        "the listening line",
        async () => /127\.0\.0\.1:(\d+)/.exec(await log())?.[1],
      ),
    );
    for (let i = 0; i < 120; i++) conns.push(await rawConnect(port, GET)); // more than 80 fds
    await eventually("the accept failure", async () => {
      const lines = (await log()).split("\n").filter((l) =>
        /ERROR Cannot accept a connection/.test(l)
      );
      return lines.length > 0 ? lines : undefined;
    });
    for (const conn of conns.splice(0)) conn.close();
    const reply = await eventually("an answer again", async () => {
      const conn = await rawConnect(port, GET);
      conns.push(conn);
      const answer = await readResponse(conn);
      return answer.status === 200 ? answer : undefined;
    });
    assert.equal(reply.status, 200);
    const failures = (await log()).split("\n").filter((l) => /Cannot accept/.test(l));
    assert.equal(failures.length, 1, "said once, not once per failed accept");
  } finally {
    for (const conn of conns) conn.close();
    child.kill("SIGKILL");
    await child.status;
  }
});
