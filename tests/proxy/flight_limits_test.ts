/**
 * The bounds of a flight: an answer past CACHE_MAX_ANSWER_BYTES is relayed whole but neither
 * recorded nor stored, and an upstream silent for CACHE_UPSTREAM_TIMEOUT_SEC is closed, its
 * clients told with a `timeout_error` (a 504 before the head, an SSE error event after it).
 */
import assert from "node:assert/strict";
import { assertAnswers, sseEvents } from "../support/answers.ts";
import { messageBody, postMessage, type ProxyUnderTest, startProxy } from "../support/proxy.ts";
import { Flight } from "../../src/proxy/flight.ts";
import type { Recording } from "../../src/cache/recorder.ts";

const CAP = 64 * 1024;
const BIG = 300_000;

async function metric(proxy: ProxyUnderTest, name: string): Promise<number> {
  const text = await (await proxy.fetch("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no ${name} in /metrics`);
  return Number(line.split(" ")[1]);
}

Deno.test("an answer past CACHE_MAX_ANSWER_BYTES reaches the client whole and is not stored", async (t) => {
  await using proxy = await startProxy({ env: { CACHE_MAX_ANSWER_BYTES: String(CAP) } });
  for (const stream of [true, false]) {
    await t.step(stream ? "streamed" : "JSON", async () => {
      const prompt = `[mock:big:${BIG}] ${crypto.randomUUID()}`;
      for (const round of ["first", "again"]) {
        const res = await postMessage(proxy, messageBody(prompt, { stream }));
        assert.equal(res.headers.get("x-cache"), "MISS", `${round}: nothing was stored`);
        assertAnswers(await res.bytes(), prompt, BIG, stream, round);
      }
    });
  }
  assert.equal(await proxy.store.count(), 0);
  const small = await postMessage(proxy, messageBody("a small answer"));
  await small.body?.cancel();
  assert.equal(await proxy.store.count(), 1, "answers under the cap are still stored");
  assert.equal(await metric(proxy, "llm_cache_answers_oversize_total"), 4, "once per answer");
  const logged = proxy.logs.filter((l) => l.includes("larger than CACHE_MAX_ANSWER_BYTES"));
  assert.equal(logged.length, 4, "one line per answer");
});

Deno.test("an answer past the cap is no longer joinable: a later twin calls upstream itself", async () => {
  const cap = 4096;
  await using proxy = await startProxy({ env: { CACHE_MAX_ANSWER_BYTES: String(cap) } });
  const body = messageBody(`[mock:forever:1] ${crypto.randomUUID()}`, { stream: true });
  const first = await postMessage(proxy, body);
  const reader = first.body!.getReader();
  let read = 0;
  while (read <= cap) read += (await reader.read()).value!.byteLength;
  const twin = await postMessage(proxy, body);
  assert.equal(twin.headers.get("x-cache"), "MISS", "not HIT-COALESCED: the first bytes are gone");
  await twin.body?.cancel();
  await reader.cancel();
  assert.equal(proxy.mock.count("/v1/messages"), 2);
});

Deno.test("a never-ending answer past the cap keeps no chunks", async () => {
  let chunks = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull: (c) => c.enqueue(new Uint8Array(1000)),
  });
  const flight = new Flight(
    () => Promise.resolve(new Response(endless)),
    (recording: Recording) => Promise.resolve(recording.chunks.length),
    { idleMs: Infinity, maxRecordBytes: 10_000 },
  );
  const { stream, leave } = flight.subscribe();
  const reader = stream.getReader();
  for (; chunks < 200; chunks++) await reader.read();
  leave();
  assert.equal(await flight.ended, 0, "the recording was dropped at the cap");
});

Deno.test("a client that stops reading holds upstream back, then is cut off at the timeout", async () => {
  const upstream = { pulls: 0, cancelled: false };
  const endless = new ReadableStream<Uint8Array>({
    pull: (c) => void (upstream.pulls++, c.enqueue(new Uint8Array(64 * 1024))),
    cancel: () => void (upstream.cancelled = true),
  });
  const flight = new Flight(
    () => Promise.resolve(new Response(endless)),
    (_recording: Recording, end) => Promise.resolve(end.how),
    { idleMs: 200, maxRecordBytes: 10_000 },
  );
  const { stream } = flight.subscribe(); // never read
  assert.equal(await flight.ended, "left", "its only client was cut off");
  assert.ok(upstream.cancelled, "the upstream body was cancelled");
  assert.ok(upstream.pulls < 40, `${upstream.pulls} chunks of 64 KiB read, not an endless backlog`);
  await assert.rejects(
    stream.getReader().read(),
    /fell behind for longer than the upstream timeout/,
  );
});

Deno.test("a slow client gets every byte: upstream is read at its pace", async () => {
  const total = 4 * 1024 * 1024;
  let sent = 0;
  const upstream = new ReadableStream<Uint8Array>({
    pull: (c) => {
      if (sent >= total) return c.close();
      c.enqueue(new Uint8Array(64 * 1024).fill(sent / 65536));
      sent += 64 * 1024;
    },
  });
  const flight = new Flight(
    () => Promise.resolve(new Response(upstream)),
    (_recording: Recording, end) => Promise.resolve(end.how),
    { idleMs: 5_000, maxRecordBytes: 10_000 },
  );
  const reader = flight.subscribe().stream.getReader();
  let received = 0;
  let maxAhead = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    received += r.value.byteLength;
    maxAhead = Math.max(maxAhead, sent - received);
    await new Promise((resolve) => setTimeout(resolve, 1)); // a slow reader
  }
  assert.equal(received, total);
  assert.equal(await flight.ended, "complete");
  assert.ok(maxAhead <= 2 * 1024 * 1024, `upstream ran ${maxAhead} bytes ahead of the client`);
});

/** What a flight records of `count` chunks of `size` bytes, each a view of its own 64 KiB buffer. */
async function recordedChunks(count: number, size: number): Promise<readonly Uint8Array[]> {
  let sent = 0;
  const upstream = new ReadableStream<Uint8Array>({
    pull: (c) => {
      if (sent++ === count) return c.close();
      c.enqueue(new Uint8Array(64 * 1024).subarray(0, size));
    },
  });
  const flight = new Flight(
    () => Promise.resolve(new Response(upstream)),
    (recording: Recording) => Promise.resolve(recording.chunks),
    { idleMs: Infinity, maxRecordBytes: 1024 * 1024 },
  );
  const reader = flight.subscribe().stream.getReader();
  while (!(await reader.read()).done);
  return await flight.ended;
}

function bufferSizes(chunks: readonly Uint8Array[]): number[] {
  return [...new Set(chunks.map((c) => c.buffer))].map((b) => b.byteLength);
}

Deno.test("recorded chunks keep only their own bytes, not the far larger buffers they came in", async () => {
  const chunks = await recordedChunks(1000, 100);
  assert.equal(chunks.reduce((n, c) => n + c.byteLength, 0), 100_000);
  const held = bufferSizes(chunks).reduce((n, b) => n + b, 0);
  assert.ok(held <= 200_000, `${held} bytes of buffers held for 100000 bytes recorded`);
});

Deno.test("a small answer is recorded in a small block; a long one in blocks that grow", async () => {
  assert.deepEqual(bufferSizes(await recordedChunks(1, 1500)), [4096]);
  assert.deepEqual(bufferSizes(await recordedChunks(200, 100)), [4096, 8192, 16384]);
  const long = bufferSizes(await recordedChunks(1000, 1000));
  assert.deepEqual(long.slice(0, 6), [4096, 8192, 16384, 32768, 65536, 65536]);
});

const TIMEOUT_SEC = "0.3";

Deno.test("upstream silent past CACHE_UPSTREAM_TIMEOUT_SEC: every client is told, upstream closed", async (t) => {
  await using proxy = await startProxy({ env: { CACHE_UPSTREAM_TIMEOUT_SEC: TIMEOUT_SEC } });
  const twice = async (prompt: string, stream: boolean) => {
    const body = messageBody(`${prompt} ${crypto.randomUUID()}`, { stream });
    const responses = await Promise.all([postMessage(proxy, body), postMessage(proxy, body)]);
    assert.deepEqual(responses.map((r) => r.headers.get("x-cache")).sort(), [
      "HIT-COALESCED",
      "MISS",
    ]);
    const call = proxy.mock.calls.at(-1)!;
    return { responses, call };
  };
  await t.step("no head: a 504 timeout_error", async () => {
    const { responses, call } = await twice("[mock:nohead]", true);
    for (const res of responses) {
      assert.equal(res.status, 504);
      const error = await res.json();
      assert.equal(error.type, "error");
      assert.equal(error.error.type, "timeout_error");
      assert.match(error.error.message, /CACHE_UPSTREAM_TIMEOUT_SEC/);
    }
    await call.gone;
  });
  await t.step("a stream that stalls: an SSE error event, then the end", async () => {
    const { responses, call } = await twice("[mock:stall:3]", true);
    for (const res of responses) {
      assert.equal(res.status, 200);
      const text = await res.text();
      const events = sseEvents(text);
      assert.equal(events[0]?.event, "message_start");
      assert.equal(events.at(-1)?.event, "error");
      assert.match(
        text,
        /\nevent: error\ndata: \{"type":"error","error":\{"type":"timeout_error",/,
      );
      assert.ok(text.endsWith("}}\n\n"), "a whole event, as the API sends one");
    }
    await call.gone;
  });
  await t.step("a JSON body that stalls: the body breaks off", async () => {
    const { responses, call } = await twice("[mock:stall]", false);
    for (const res of responses) await assert.rejects(res.text());
    await call.gone;
  });
  assert.equal(await proxy.store.count(), 0, "nothing partial stored");
  const timeouts = proxy.logs.filter((l) => / ERROR Upstream sent nothing for 0.3 s/.test(l));
  assert.equal(timeouts.length, 3, "one error line per flight");
});

Deno.test("the timeout is for silence, not for the whole answer", async () => {
  await using proxy = await startProxy({ env: { CACHE_UPSTREAM_TIMEOUT_SEC: "1" } });
  const res = await postMessage(proxy, messageBody("[mock:slow:100]", { stream: true }));
  assert.match(await res.text(), /event: message_stop/, "events 100 ms apart, over 1 s in all");
  assert.equal(await proxy.store.count(), 1);
});
