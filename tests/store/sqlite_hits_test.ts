// How pending hit times are written: in short slices, a pause apart, each in key order.
import assert from "node:assert/strict";
import { type HitWriter, PendingHits } from "../../src/store/_sqlite_hits.ts";

/** A writer that records each transaction's start and the keys it touched; each touch takes `touchMs`. */
function recordingWriter(touchMs: number) {
  const slices: { at: number; keys: string[] }[] = [];
  const writer: HitWriter = {
    isOpen: true,
    transaction(work) {
      slices.push({ at: performance.now(), keys: [] });
      work();
    },
    touch(key) {
      slices.at(-1)!.keys.push(key);
      const until = performance.now() + touchMs;
      while (performance.now() < until) { /* a write's cost */ }
    },
  };
  return { writer, slices };
}

Deno.test("PendingHits writes a flush in slices a pause apart, each slice's keys in order", async () => {
  const { writer, slices } = recordingWriter(0.02);
  const hits = new PendingHits(writer);
  const keys = Array.from({ length: 300 }, (_, i) => `${(i * 7919) % 1000}`.padStart(4, "0"));
  for (const key of keys) hits.count(key, 1);
  hits.flushInSlices();
  while (hits.size > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.ok(slices.length >= 3, `${slices.length} slices`);
  const written = slices.flatMap((s) => s.keys);
  assert.deepEqual(written, [...keys].sort(), "every key once, in key order");
  for (let i = 1; i < slices.length; i++) {
    const gap = slices[i]!.at - slices[i - 1]!.at;
    assert.ok(gap >= 4, `slice ${i} came ${gap.toFixed(2)} ms after the one before`);
  }
});

Deno.test("PendingHits skips a key forgotten after it was taken, and writes the rest", () => {
  const { writer, slices } = recordingWriter(0);
  const hits = new PendingHits(writer);
  const keys = [..."qwertyuiopasdfghjklz"];
  for (const key of keys) hits.count(key, 1);
  const sorted = [...keys].sort();
  hits.flush(0); // takes all twenty in order, writes until it first looks at the clock
  const first = slices[0]!.keys;
  assert.deepEqual(first, sorted.slice(0, first.length));
  const gone = sorted.at(-1)!;
  hits.forget(gone);
  hits.flush();
  assert.deepEqual(slices[1]!.keys, sorted.slice(first.length, -1));
  assert.equal(hits.size, 0);
});
