/**
 * Security regression: a request path must not climb out of `/v1/` on its way
 * upstream (with the real API key) nor reach a local route through `/v1/..`.
 * Sent over a real socket with a raw TCP client, because `fetch` and curl
 * resolve dot segments before sending.
 */
import assert from "node:assert/strict";
import { rawRequest } from "../support/raw_http.ts";
import { startProxy } from "../support/proxy.ts";

const ESCAPES = [
  "/v1/../cache/entries",
  "/v1/..",
  "/v1/./messages",
  "/v1/%2e%2e/x",
  "/v1/%2E%2e/x",
  "/v1/.%2e/cache/entries",
  "/v1/%2e./x",
  "/v1/%2e/messages",
  "/v1/%2e%2e%2fcache%2fentries",
  "/v1/a%2F..%2Fb",
  "/v1/..\\cache\\entries",
  "/v1/%5c..%5cx",
  "/v1/%252e%252e/x",
  "/v1/messages#/../../x",
  "/cache/../v1/models",
  "http://proxy.test/v1/../cache/entries",
];

Deno.test("a path with dot segments, encoded or not, is refused with a 400 and never forwarded", async (t) => {
  await using proxy = await startProxy({ env: { ANTHROPIC_API_KEY_REAL: "sk-real-key" } });
  const port = Number(new URL(proxy.url).port);
  for (const target of ESCAPES) {
    for (const method of ["GET", "POST", "DELETE"]) {
      await t.step(`${method} ${target}`, async () => {
        const reply = await rawRequest(port, method, target);
        assert.equal(reply.status, 400, reply.text);
        assert.match(reply.text, /"type":"error","error":\{"type":"invalid_request_error"/);
        assert.match(reply.text, /normalized paths/);
      });
    }
  }
  assert.equal(proxy.mock.count(), 0, "nothing reached upstream");
});

Deno.test("normalized paths are still routed: /v1/* upstream, /cache/entries locally", async () => {
  await using proxy = await startProxy({ env: { ANTHROPIC_API_KEY_REAL: "sk-real-key" } });
  const port = Number(new URL(proxy.url).port);
  const models = await rawRequest(port, "GET", "/v1/models?after_id=a.b&x=/../");
  assert.equal(models.status, 200, models.text);
  assert.deepEqual(proxy.mock.calls.map((c) => c.path), ["/v1/models?after_id=a.b&x=/../"]);
  assert.equal(proxy.mock.calls[0]!.headers["x-api-key"], "sk-real-key");
  const entries = await rawRequest(port, "GET", "/cache/entries");
  assert.equal(entries.status, 200, entries.text);
  await rawRequest(port, "GET", "/v1/models/claude-3.5.sonnet");
  assert.equal(
    proxy.mock.calls.at(-1)!.path,
    "/v1/models/claude-3.5.sonnet",
    "a dot is no dot segment",
  );
});
