import assert from "node:assert/strict";
import { Watchdog } from "../../src/proxy/_flight_waits.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A watchdog on `idleMs` that records when it went off, in ms after it was made. */
function watched(idleMs: number) {
  const made = performance.now();
  const fired: number[] = [];
  const dog = new Watchdog(idleMs, () => fired.push(performance.now() - made));
  return { dog, fired, since: () => performance.now() - made };
}

Deno.test("Watchdog: silence for idleMs during a wait sets it off, once", async () => {
  const { dog, fired } = watched(40);
  dog.waiting();
  await sleep(120);
  assert.equal(fired.length, 1);
  assert.ok(fired[0]! >= 40, `went off after ${fired[0]} ms`);
  dog.stop();
});

Deno.test("Watchdog: each new wait restarts the clock", async () => {
  const { dog, fired, since } = watched(150);
  dog.waiting();
  let lastWait = 0;
  for (let i = 0; i < 10; i++) {
    await sleep(20);
    dog.waiting(); // a chunk came: 200 ms or more in all, never 150 ms of silence
    lastWait = since();
  }
  assert.deepEqual(fired, []);
  await sleep(300);
  assert.equal(fired.length, 1);
  assert.ok(
    fired[0]! >= lastWait + 150 - 1,
    `went off at ${fired[0]} ms, last wait at ${lastWait}`,
  );
  dog.stop();
});

Deno.test("Watchdog: no alarm while paused or after stop", async () => {
  const paused = watched(30);
  paused.dog.waiting();
  paused.dog.paused(); // a client is behind: upstream is not waited on
  await sleep(90);
  assert.deepEqual(paused.fired, []);
  paused.dog.waiting();
  await sleep(90);
  assert.equal(paused.fired.length, 1, "the next wait counts again");
  paused.dog.stop();

  const stopped = watched(30);
  stopped.dog.waiting();
  stopped.dog.stop();
  await sleep(90);
  assert.deepEqual(stopped.fired, []);
});

Deno.test("Watchdog: an infinite idleMs sets no timer", async () => {
  const { dog, fired } = watched(Infinity);
  dog.waiting();
  await sleep(20);
  assert.deepEqual(fired, []);
  dog.stop();
});
