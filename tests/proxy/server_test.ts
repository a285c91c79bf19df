import assert from "node:assert/strict";
import { VERSION } from "../../src/version.ts";
import { messageBody, postMessage, startProxy } from "../support/proxy.ts";

Deno.test("GET /health answers status, pid, version and home; unknown routes get an Anthropic-shaped 404", async () => {
  await using proxy = await startProxy();
  const health = await proxy.fetch("/health");
  assert.deepEqual([health.status, await health.json()], [200, {
    status: "ok",
    pid: Deno.pid,
    version: VERSION,
    store: "ok",
    home: "/nonexistent-cache-home",
  }]);
  const missing = await proxy.fetch("/nope");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.type, "not_found_error");
});

Deno.test("with CACHE_AUTH_TOKEN every route but /health needs x-cache-auth", async () => {
  await using proxy = await startProxy({
    env: { CACHE_HOST: "0.0.0.0", CACHE_AUTH_TOKEN: "s3cret-token" },
  });
  const health = await proxy.fetch("/health");
  await health.body?.cancel();
  assert.equal(health.status, 200);
  for (
    const headers of [{}, { "x-cache-auth": "wrong" }, { "x-cache-auth": "s3cret-token-longer" }]
  ) {
    const denied = await postMessage(proxy, messageBody("hi"), headers);
    assert.equal(denied.status, 401);
    const error = await denied.json();
    assert.equal(error.type, "error");
    assert.equal(error.error.type, "authentication_error");
    assert.match(error.error.message, /x-cache-auth/);
    const models = await proxy.fetch("/v1/models", { headers });
    await models.body?.cancel();
    assert.equal(models.status, 401);
  }
  assert.equal(proxy.mock.count(), 0, "nothing reached upstream");
  const allowed = await postMessage(proxy, messageBody("hi"), { "x-cache-auth": "s3cret-token" });
  await allowed.body?.cancel();
  assert.equal(allowed.status, 200);
  assert.equal(proxy.mock.calls[0]!.headers["x-cache-auth"], undefined, "the token stays here");
});

Deno.test("a body over 32 MB gets 413 without the rest being read", async (t) => {
  await using proxy = await startProxy();
  const port = new URL(proxy.url).port;
  await t.step("declared by content-length: answered before any body byte is sent", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
    const head = "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
      `content-length: ${40 * 1024 * 1024}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head));
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    conn.close();
    const response = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    assert.match(response, /^HTTP\/1.1 413/);
    assert.match(response, /"type":"request_too_large"/);
  });
  await t.step("chunked: refused once past the limit", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 40) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await proxy.fetch("/v1/messages", { method: "POST", body });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.type, "request_too_large");
    assert.ok(sent < 40, `stopped reading after ${sent} MiB`);
  });
  assert.equal(proxy.mock.count(), 0);
});

Deno.test("an unreachable upstream gives a 502 Anthropic-shaped error and the proxy stays up", async () => {
  await using proxy = await startProxy({ upstream: "http://127.0.0.1:8" });
  const res = await postMessage(proxy, messageBody("hi"));
  assert.equal(res.status, 502);
  const error = await res.json();
  assert.equal(error.error.type, "api_error");
  assert.match(error.error.message, /cannot reach the Anthropic API at http:\/\/127\.0\.0\.1:8/);
  const models = await proxy.fetch("/v1/models");
  await models.body?.cancel();
  assert.equal(models.status, 502);
  const health = await proxy.fetch("/health");
  await health.body?.cancel();
  assert.equal(health.status, 200);
});

Deno.test("other /v1 paths pass through uncached, streaming both ways", async () => {
  await using proxy = await startProxy();
  for (let i = 0; i < 2; i++) {
    const models = await proxy.fetch("/v1/models", { headers: { "x-api-key": "k" } });
    assert.equal(models.status, 200);
    assert.equal(models.headers.get("x-cache"), null);
    assert.equal((await models.json()).data[0].id, "claude-sonnet-4-5-20250929");
  }
  assert.equal(proxy.mock.count("/v1/models"), 2, "not cached");
  const upload = new TransformStream<Uint8Array, Uint8Array>();
  const writer = upload.writable.getWriter();
  const echoed = proxy.fetch("/v1/echo/files?x=1", { method: "POST", body: upload.readable });
  await writer.write(new TextEncoder().encode("first part;"));
  const res = await echoed;
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(
    new TextDecoder().decode(first.value),
    "first part;",
    "echoed before the upload ended",
  );
  await writer.write(new TextEncoder().encode("second part"));
  await writer.close();
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += new TextDecoder().decode(r.value);
  }
  assert.equal(rest, "second part");
  assert.equal(proxy.mock.calls.at(-1)!.path, "/v1/echo/files?x=1");
});

Deno.test("credentials: the real key replaces the client's; without it they pass through", async (t) => {
  const clientHeaders = {
    "x-api-key": "sk-ant-client",
    authorization: "Bearer oauth-token",
    "x-cache-namespace": "n",
    "anthropic-beta": "oauth-2025-04-20",
  };
  await t.step("ANTHROPIC_API_KEY_REAL set", async () => {
    await using proxy = await startProxy({ env: { ANTHROPIC_API_KEY_REAL: "sk-ant-real" } });
    await (await postMessage(proxy, messageBody("k"), clientHeaders)).body?.cancel();
    const seen = proxy.mock.calls[0]!.headers;
    assert.equal(seen["x-api-key"], "sk-ant-real");
    assert.equal(seen["authorization"], undefined);
    assert.equal(seen["x-cache-namespace"], undefined);
    assert.equal(seen["anthropic-beta"], "oauth-2025-04-20");
  });
  await t.step("no real key: a subscription login's Bearer token passes through", async () => {
    await using proxy = await startProxy();
    await (await postMessage(proxy, messageBody("k"), clientHeaders)).body?.cancel();
    const seen = proxy.mock.calls[0]!.headers;
    assert.equal(seen["x-api-key"], "sk-ant-client");
    assert.equal(seen["authorization"], "Bearer oauth-token");
    assert.equal(seen["x-cache-namespace"], undefined);
  });
});

Deno.test("POST /cache/off bypasses every call until POST /cache/on; /stats shows the switch", async () => {
  await using proxy = await startProxy();
  const call = async () => {
    const res = await postMessage(proxy, messageBody("switch me"));
    await res.arrayBuffer();
    return res.headers.get("x-cache");
  };
  assert.equal(await call(), "MISS");
  assert.equal(await call(), "HIT");
  const off = await proxy.fetch("/cache/off", { method: "POST" });
  assert.deepEqual(await off.json(), { off: true });
  assert.equal(await call(), "BYPASS");
  assert.equal((await (await proxy.fetch("/stats")).json()).cache, "off");
  const on = await proxy.fetch("/cache/on", { method: "POST" });
  assert.deepEqual(await on.json(), { off: false });
  assert.equal(await call(), "HIT");
  const stats = await (await proxy.fetch("/stats")).json();
  assert.equal(stats.cache, "on");
  assert.deepEqual(
    [stats.lastCall.kind, stats.lastCall.status, stats.lastCall.model],
    ["HIT", 200, "claude-sonnet-4-5-20250929"],
  );
});

Deno.test("the cache switch needs the auth token like every other control", async () => {
  await using proxy = await startProxy({
    env: { CACHE_HOST: "0.0.0.0", CACHE_AUTH_TOKEN: "s3cret-token" },
  });
  const denied = await fetch(`${proxy.url}/cache/off`, { method: "POST" });
  assert.equal(denied.status, 401);
  await denied.body?.cancel();
  const stats = await proxy.fetch("/stats", { headers: { "x-cache-auth": "s3cret-token" } });
  assert.equal((await stats.json()).cache, "on");
});
