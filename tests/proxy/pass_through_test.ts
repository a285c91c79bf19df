/**
 * Uncached `/v1/*` routes (models, files, batches) against an upstream that accepts the
 * connection and never answers: the proxy gives up after CACHE_UPSTREAM_TIMEOUT_SEC with an
 * Anthropic-shaped 504, and closes the upstream connection when its client leaves.
 */
import assert from "node:assert/strict";
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
