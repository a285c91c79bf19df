/**
 * Uncached `/v1/*` routes (models, files, batches) against an upstream that accepts the
 * connection and never answers: the proxy gives up after CACHE_UPSTREAM_TIMEOUT_SEC with an
 * Anthropic-shaped 504, and closes the upstream connection when its client leaves; against one
 * whose body goes silent half-way, the body is cut off after the same timeout; against one that
 * breaks off half-way, so is the client's.
 */
import assert from "node:assert/strict";
import type { CallEvent } from "../../src/stats/events.ts";
import { eventually } from "../support/harness.ts";
import { startProxy } from "../support/proxy.ts";

/** A TCP server that reads requests and never answers; it tells when a connection closes. */
function silentUpstream() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { accepted: 0, closed: 0 };
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      state.accepted++;
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(4096);
        try {
          while ((await conn.read(buf)) !== null);
        } catch {
          // reset by the proxy: closed all the same
        }
        state.closed++;
        conns.delete(conn);
      })();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    state,
    [Symbol.dispose]() {
      listener.close();
      for (const conn of conns) conn.close();
    },
  };
}

Deno.test("a pass-through route whose upstream stays silent gets a 504 timeout_error", async () => {
  using upstream = silentUpstream();
  await using proxy = await startProxy({
    upstream: upstream.url,
    env: { CACHE_UPSTREAM_TIMEOUT_SEC: "0.3" },
  });
  const res = await proxy.fetch("/v1/models");
  assert.equal(res.status, 504);
  const body = await res.json();
  assert.equal(body.error.type, "timeout_error");
  assert.match(body.error.message, /sent nothing for 0\.3 s.*CACHE_UPSTREAM_TIMEOUT_SEC/);
  await eventually(
    "the upstream connection to close",
    () => Promise.resolve(upstream.state.closed >= 1 || undefined),
  );
});

Deno.test("a client that leaves a pass-through call closes its upstream connection", async () => {
  using upstream = silentUpstream();
  await using proxy = await startProxy({ upstream: upstream.url });
  const client = new AbortController();
  const pending = proxy.fetch("/v1/models", { signal: client.signal }).catch(() => undefined);
  await eventually(
    "the call to reach upstream",
    () => Promise.resolve(upstream.state.accepted >= 1 || undefined),
  );
  client.abort();
  await pending;
  await eventually(
    "the upstream connection to close",
    () => Promise.resolve(upstream.state.closed >= 1 || undefined),
  );
});

/** An upstream that sends a head and the first chunk of a body, then nothing more. */
function stallingUpstream() {
  const state = { cancelled: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"data": ['));
      },
      cancel() {
        state.cancelled++;
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    state,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("a pass-through body that goes silent is cut off after the timeout, and reported", async () => {
  await using upstream = stallingUpstream();
  await using proxy = await startProxy({
    upstream: upstream.url,
    env: { CACHE_UPSTREAM_TIMEOUT_SEC: "0.3" },
  });
  const passes: CallEvent[] = [];
  proxy.stats.events.subscribe((event) => event.kind === "PASS" && passes.push(event));
  const started = performance.now();
  const res = await proxy.fetch("/v1/files");
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), '{"data": [');
  await assert.rejects(reader.read(), "the body breaks off instead of hanging");
  const waited = performance.now() - started;
  assert.ok(waited >= 250 && waited < 5_000, `cut off after ${waited.toFixed(0)} ms`);
  await eventually(
    "upstream's body to be cancelled",
    () => Promise.resolve(upstream.state.cancelled >= 1 || undefined),
  );
  const [pass] = await eventually(
    "the PASS event",
    () => Promise.resolve(passes.length ? passes : undefined),
  );
  assert.deepEqual([pass!.path, pass!.status, pass!.bytes], ["/v1/files", 200, 10]);
});

/** An upstream that sends a head promising 100 bytes, ten of them, then closes the connection. */
function breakingUpstream() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(4096);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          head += new TextDecoder().decode(buf.subarray(0, n));
        }
        await conn.write(new TextEncoder().encode(
          "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n" +
            '{"data": [',
        ));
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    [Symbol.dispose]: () => listener.close(),
  };
}

Deno.test("a pass-through body that upstream breaks off breaks off for the client too", async () => {
  using upstream = breakingUpstream();
  await using proxy = await startProxy({ upstream: upstream.url });
  const passes: CallEvent[] = [];
  proxy.stats.events.subscribe((event) => event.kind === "PASS" && passes.push(event));
  const res = await proxy.fetch("/v1/files");
  assert.equal(res.status, 200);
  await assert.rejects(res.text(), "a short body is an error, never a complete answer");
  const [pass] = await eventually(
    "the PASS event",
    () => Promise.resolve(passes.length ? passes : undefined),
  );
  assert.deepEqual([pass!.path, pass!.status], ["/v1/files", 200]);
  const health = await proxy.fetch("/health");
  assert.equal(health.status, 200, "the proxy carries on");
  await health.body?.cancel();
});
