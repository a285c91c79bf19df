import assert from "node:assert/strict";
import { EventBus } from "../../src/stats/events.ts";
import { Monitor } from "../../src/stats/monitor.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

function report(i: number) {
  return {
    time: new Date().toISOString(),
    kind: "HIT" as const,
    model: "m",
    path: "/v1/messages",
    status: 200,
    bytes: i,
    durationMs: 1,
    usage: NO_USAGE,
    dollars: 0,
    snippet: `call ${i}`,
    key: null,
  };
}

async function readEvents(stream: ReadableStream<Uint8Array>, count: number): Promise<string[]> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (text.split("\n\n").length <= count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return text.split("\n\n").slice(0, count);
}

Deno.test("Monitor sends a connected event, then every call in seq order", async () => {
  const bus = new EventBus();
  const monitor = new Monitor("2026-11-26T00:00:00.000Z", { batchMs: 0 });
  bus.subscribe(monitor.publish);
  bus.emit(report(0));
  const stream = monitor.connect();
  for (let i = 1; i <= 3; i++) bus.emit(report(i));
  const frames = await readEvents(stream, 4);
  assert.equal(
    frames[0],
    'event: connected\ndata: {"seq":1,"startedAt":"2026-11-26T00:00:00.000Z"}',
  );
  const seqs = frames.slice(1).map((f) => JSON.parse(f.split("data: ")[1]!).seq);
  assert.deepEqual(seqs, [2, 3, 4]);
  assert.equal(monitor.clients, 0, "a cancelled client is forgotten");
});

Deno.test("Monitor drops a client that stops reading instead of queueing without bound", async () => {
  const bus = new EventBus();
  const monitor = new Monitor("2026-11-26T00:00:00.000Z", { batchMs: 0 });
  bus.subscribe(monitor.publish);
  const stalled = monitor.connect();
  const reader = stalled.getReader();
  for (let i = 0; i < 1000; i++) bus.emit(report(i));
  assert.equal(monitor.clients, 0, "dropped");
  await assert.rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  }, /fell too far behind/);
  monitor.close();
});

/** A monitor batching every 20 ms, on a bus, with one client past its `connected` event. */
async function batchingMonitor() {
  const bus = new EventBus();
  const monitor = new Monitor("2026-11-26T00:00:00.000Z", { batchMs: 20 });
  bus.subscribe(monitor.publish);
  const reader = monitor.connect().getReader();
  await reader.read(); // connected
  return { bus, monitor, reader };
}

/** The `call` frames of one chunk, decoded strictly. */
function callFrames(chunk: Uint8Array | undefined): string[] {
  return new TextDecoder("utf-8", { fatal: true }).decode(chunk).split("\n\n")
    .filter((f) => f.startsWith("event: call"));
}

Deno.test("Monitor sends the events of a burst together, in one chunk, soon after", async () => {
  const { bus, monitor, reader } = await batchingMonitor();
  for (let i = 0; i < 50; i++) bus.emit(report(i));
  const started = performance.now();
  const { value } = await reader.read();
  assert.equal(callFrames(value).length, 50, "one chunk holds the whole burst");
  assert.ok(performance.now() - started < 500);
  await reader.cancel();
  monitor.close();
});

Deno.test("Monitor's batch holds any text, past the size it started with, byte for byte", async () => {
  const { bus, monitor, reader } = await batchingMonitor();
  const snippets = [
    "日".repeat(30_000), // 90 KB of UTF-8 in 30,000 UTF-16 units: more bytes than units
    ...Array.from({ length: 400 }, (_, i) => `${i} ✓ naïve 日本語 🙂 ${"x".repeat(i)}`),
  ];
  for (const [i, snippet] of snippets.entries()) bus.emit({ ...report(i), snippet });
  const { value } = await reader.read();
  assert.ok(value!.byteLength > 64 * 1024, `${value!.byteLength} bytes in one batch`);
  const events = callFrames(value).map((f) => JSON.parse(f.slice(f.indexOf("data: ") + 6)));
  assert.deepEqual(events.map((e) => e.snippet), snippets);
  await reader.cancel();
  monitor.close();
});
