import assert from "node:assert/strict";
import fc from "fast-check";
import { entryFor, isCompleteBody, isFinishedStream } from "../../src/cache/recorder.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

const fixture = (name: string) =>
  Deno.readFile(new URL(`../fixtures/anthropic/${name}`, import.meta.url));
const text = async (name: string) => new TextDecoder().decode(await fixture(name));
const SSE = "text/event-stream; charset=utf-8";

Deno.test("isFinishedStream() accepts only streams that end with message_stop and carry no error", async () => {
  assert.ok(isFinishedStream(await text("stream_text.sse")));
  assert.ok(isFinishedStream(await text("stream_tool_use.sse")));
  assert.ok(isFinishedStream((await text("stream_text.sse")).replaceAll("\n", "\r\n")));
  assert.ok(!isFinishedStream(await text("stream_error_midway.sse")));
  assert.ok(!isFinishedStream(await text("stream_cut_before_stop.sse")));
  assert.ok(!isFinishedStream(""));
  const errorAfterStop = `${await text("stream_text.sse")}event: error\ndata: {}\n\n`;
  assert.ok(!isFinishedStream(errorAfterStop));
});

Deno.test("isFinishedStream() accepts LF, CRLF and bare CR framing alike", async () => {
  for (const name of ["stream_text.sse", "stream_tool_use.sse"]) {
    const lf = await text(name);
    for (const eol of ["\n", "\r\n", "\r"]) {
      assert.ok(isFinishedStream(lf.replaceAll("\n", eol)), `${name} ${JSON.stringify(eol)}`);
    }
    const mixed = lf.replace(/\n\n$/, "\r\n\r\n").replace("\n", "\r");
    assert.ok(isFinishedStream(mixed));
    assert.ok(isFinishedStream(lf.replace("event: message_stop", "event:message_stop")));
    assert.ok(isFinishedStream(`${lf}: a comment\n`), "a comment is no event");
  }
});

Deno.test("isFinishedStream() wants message_stop as a whole event: event line, JSON data, blank line", async (t) => {
  const whole = await text("stream_text.sse");
  const before = whole.slice(0, whole.indexOf("event: message_stop"));
  assert.ok(isFinishedStream(`${before}event: message_stop\ndata: {"type":"message_stop"}\n\n`));
  const cuts: [string, string][] = [
    ["bare event line", "event: message_stop"],
    ["event line, no data", "event: message_stop\n"],
    ["event line and blank line, no data", "event: message_stop\n\n"],
    ["no blank line", 'event: message_stop\ndata: {"type":"message_stop"}\n'],
    ["no line break", 'event: message_stop\ndata: {"type":"message_stop"}'],
    ["data cut short", 'event: message_stop\ndata: {"type":"message_st\n\n'],
    ["data of another type", 'event: message_stop\ndata: {"type":"ping"}\n\n'],
    ["no event line", 'data: {"type":"message_stop"}\n\n'],
    ["another event name", 'event: message_stop \ndata: {"type":"message_stop"}\n\n'],
    [
      "an event after it",
      `event: message_stop\ndata: {"type":"message_stop"}\n\n` +
      `event: ping\ndata: {"type": "ping"}\n\n`,
    ],
    [
      "an unfinished event after it",
      `event: message_stop\ndata: {"type":"message_stop"}\n\n` +
      `event: ping\n`,
    ],
    [
      "an error without data before it",
      'event: error\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
    ],
  ];
  for (const [name, tail] of cuts) {
    await t.step(name, () => {
      for (const eol of ["\n", "\r\n", "\r"]) {
        assert.ok(!isFinishedStream(`${before}${tail}`.replaceAll("\n", eol)), JSON.stringify(eol));
      }
    });
  }
  await t.step("CRLF cut between the last CR and LF", () => {
    assert.ok(!isFinishedStream(whole.replaceAll("\n", "\r\n").slice(0, -1)));
  });
  await t.step("bare CR cut before the last CR", () => {
    assert.ok(!isFinishedStream(whole.replaceAll("\n", "\r").slice(0, -1)));
  });
});

Deno.test("isFinishedStream() property: no strict prefix of a finished stream is finished", async () => {
  const streams = await Promise.all(["stream_text.sse", "stream_tool_use.sse"].map(text));
  const stream = fc.record({
    lf: fc.constantFrom(...streams),
    eol: fc.constantFrom("\n", "\r\n", "\r"),
    pings: fc.nat(3), // more events before message_stop, as the API may send
  }).map(({ lf, eol, pings }) => {
    const stop = lf.indexOf("event: message_stop");
    const extra = 'event: ping\ndata: {"type": "ping"}\n\n: keep-alive\n\n'.repeat(pings);
    return `${lf.slice(0, stop)}${extra}${lf.slice(stop)}`.replaceAll("\n", eol);
  });
  fc.assert(
    fc.property(stream, fc.nat(), (whole, cut) => {
      assert.ok(isFinishedStream(whole));
      assert.ok(!isFinishedStream(whole.slice(0, cut % whole.length)));
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(stream, fc.nat(), fc.boolean(), (whole, at, withData) => {
      const eol = whole.includes("\r\n") ? "\r\n" : whole.includes("\r") ? "\r" : "\n";
      const boundaries = [
        0,
        ...[...whole.matchAll(/(\r\n|\r|\n)\1/g)].map((m) => m.index + m[0].length),
      ];
      const i = boundaries[at % boundaries.length]!;
      const error = `event: error${withData ? `${eol}data: {"type":"error"}` : ""}${eol}${eol}`;
      assert.ok(!isFinishedStream(`${whole.slice(0, i)}${error}${whole.slice(i)}`));
    }),
    { numRuns: 300 },
  );
});

Deno.test("isCompleteBody() wants parsable JSON or a finished stream", async () => {
  assert.ok(isCompleteBody("application/json", await fixture("message_text.json")));
  const json = await fixture("message_tool_use.json");
  assert.ok(!isCompleteBody("application/json", json.subarray(0, json.length / 2)));
  assert.ok(isCompleteBody(SSE, await fixture("stream_tool_use.sse")));
  assert.ok(!isCompleteBody("text/plain", await fixture("message_text.json")));
  assert.ok(!isCompleteBody("application/json", new Uint8Array([0xff, 0x7b, 0x7d])));
});

Deno.test("entryFor() stores only a complete 200, with its exact bytes", async () => {
  const usage = { ...NO_USAGE, "input_tokens": 25, "output_tokens": 15 };
  const request = {
    key: "k",
    path: "/v1/messages",
    model: "m",
    now: 1000,
    ttlSec: 60,
    usage,
    snippet: "Hello",
    namespace: "",
    body: undefined,
  };
  const sse = await fixture("stream_text.sse");
  const entry = entryFor(request, { status: 200, contentType: SSE, body: sse });
  assert.deepEqual(entry?.body, sse);
  assert.equal(entry?.contentType, SSE);
  assert.equal(entry?.expiresAt, 61_000);
  assert.deepEqual([entry?.usage, entry?.snippet], [usage, "Hello"]);
  assert.equal(entryFor(request, { status: 529, contentType: SSE, body: sse }), undefined);
  const midway = await fixture("stream_error_midway.sse");
  assert.equal(entryFor(request, { status: 200, contentType: SSE, body: midway }), undefined);
});
