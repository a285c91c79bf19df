import assert from "node:assert/strict";
import { messageBody, postMessage, startProxy } from "../support/proxy.ts";

const STREAM = await Deno.readTextFile(
  new URL("../fixtures/anthropic/stream_text.sse", import.meta.url),
);
const BEFORE_STOP = STREAM.slice(0, STREAM.indexOf("event: message_stop"));

/** An upstream that answers every request 200 with `body` as an event stream, on a real port. */
function streamingUpstream(body: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8" } });
  });
}

/** Sends one streaming request twice; tells what the second one was. */
async function secondCall(upstreamBody: string): Promise<string | null> {
  await using upstream = streamingUpstream(upstreamBody);
  await using proxy = await startProxy({ upstream: `http://127.0.0.1:${upstream.addr.port}` });
  const body = messageBody("hello", { stream: true });
  const first = await postMessage(proxy, body);
  assert.equal(await first.text(), upstreamBody, "relayed as received, whatever it is");
  const second = await postMessage(proxy, body);
  await second.body?.cancel();
  return second.headers.get("x-cache");
}

Deno.test("a stream framed with CRLF or bare CR and ending in a whole message_stop is stored", async (t) => {
  for (const eol of ["\r\n", "\r"]) {
    await t.step(JSON.stringify(eol), async () => {
      assert.equal(await secondCall(STREAM.replaceAll("\n", eol)), "HIT");
    });
  }
});

Deno.test("a stream whose message_stop event is not whole is relayed but never stored", async (t) => {
  const tails: [string, string][] = [
    ["bare event line", "event: message_stop"],
    ["event line, no data", "event: message_stop\n\n"],
    ["no blank line", 'event: message_stop\ndata: {"type":"message_stop"}\n'],
    [
      "bare CR framing, cut before the last CR",
      'event: message_stop\rdata: {"type":"message_stop"}\r',
    ],
  ];
  for (const [name, tail] of tails) {
    await t.step(name, async () => {
      assert.equal(await secondCall(`${BEFORE_STOP}${tail}`), "MISS");
    });
  }
});
