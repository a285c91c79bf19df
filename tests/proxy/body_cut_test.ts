/**
 * A client that cuts its request body short has gone: the proxy logs one
 * debug line, makes no upstream call, and neither answers 500 nor prints a
 * stack trace. Run against `serve` as a real subprocess, whose whole stdout,
 * stderr and log file are read.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { eventually, tempHome } from "../support/harness.ts";
import { startMockAnthropic } from "../support/mock_anthropic.ts";
import { spawnServe } from "../support/process.ts";
import { rawConnect, readToEnd } from "../support/raw_http.ts";

const HEAD = "POST /v1/messages HTTP/1.1\r\nhost: proxy.test\r\nx-api-key: client-key\r\n" +
  "anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n";
const CUTS = {
  "content-length larger than the bytes sent": `${HEAD}content-length: 5000\r\n\r\n{"model":"x",`,
  "chunked body without its last chunk":
    `${HEAD}transfer-encoding: chunked\r\n\r\nd\r\n{"model":"x",\r\n`,
  "chunked body cut inside a chunk": `${HEAD}transfer-encoding: chunked\r\n\r\n40\r\n{"model":"x",`,
};
const CUT_LINE = /DEBUG POST http:\/\/proxy\.test\/v1\/messages: The request body ended before/;

Deno.test("a request body cut short is one debug line: no 500, no stack trace, no upstream call", async () => {
  await using home = await tempHome();
  await using mock = await startMockAnthropic();
  const logFile = join(home.path, "proxy.log");
  await using proxy = await spawnServe({
    CACHE_HOME: home.path,
    CACHE_PORT: "0",
    CACHE_UPSTREAM: mock.url,
    CACHE_LOG_LEVEL: "debug",
    CACHE_LOG_FILE: logFile,
  });
  for (const request of Object.values(CUTS)) {
    (await rawConnect(proxy.port, request)).close(); // the client leaves mid-body
  }
  // A client that only half-closes still reads the answer: a 400, not a 500.
  const halfClosed = await rawConnect(
    proxy.port,
    CUTS["content-length larger than the bytes sent"],
  );
  await halfClosed.closeWrite();
  const reply = await readToEnd(halfClosed);
  assert.equal(reply.status, 400, reply.text);
  assert.match(reply.text, /"type":"invalid_request_error"/);

  const cuts = Object.keys(CUTS).length + 1;
  await eventually(`${cuts} debug lines`, async () => {
    const lines = (await Deno.readTextFile(logFile).catch(() => "")).split("\n");
    return lines.filter((line) => CUT_LINE.test(line)).length >= cuts ? true : undefined;
  });
  const out = await proxy.stop();
  for (const text of [`${out.stdout}${out.stderr}`, await Deno.readTextFile(logFile)]) {
    assert.equal(text.split("\n").filter((line) => CUT_LINE.test(line)).length, cuts, text);
    assert.doesNotMatch(text, /ERROR|BadResource|\n\s+at /, text);
  }
  assert.equal(mock.count(), 0, "nothing reached upstream");
});
