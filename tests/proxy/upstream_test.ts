import assert from "node:assert/strict";
import { outgoingHeaders, withoutHopByHop } from "../../src/proxy/upstream.ts";

Deno.test("withoutHopByHop() drops RFC 9110 hop-by-hop headers and those Connection names", () => {
  const headers = withoutHopByHop(
    new Headers({
      connection: "keep-alive, X-Session-Hop",
      "keep-alive": "timeout=5",
      "transfer-encoding": "chunked",
      te: "trailers",
      upgrade: "h2c",
      "proxy-authorization": "Basic x",
      "x-session-hop": "1",
      "anthropic-version": "2023-06-01",
    }),
  );
  assert.deepEqual(headers, [["anthropic-version", "2023-06-01"]]);
});

Deno.test("outgoingHeaders() strips x-cache-* control headers and what fetch sets itself", () => {
  const headers = outgoingHeaders(
    new Headers({
      host: "localhost:4000",
      "content-length": "12",
      "accept-encoding": "gzip",
      "x-cache-bypass": "1",
      "x-cache-auth": "t",
      "x-api-key": "client",
      "content-type": "application/json",
    }),
    undefined,
  );
  assert.deepEqual(headers.map(([name]) => name).sort(), ["content-type", "x-api-key"]);
});

Deno.test("outgoingHeaders() injects the real key in place of client credentials", () => {
  const headers = outgoingHeaders(
    new Headers({ authorization: "Bearer t", "x-api-key": "client" }),
    "sk-ant-real",
  );
  assert.deepEqual(headers, [["x-api-key", "sk-ant-real"]]);
});
