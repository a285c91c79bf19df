import assert from "node:assert/strict";
import { messageBody, postMessage, startProxy } from "../support/proxy.ts";

const text = (res: Response) => res.text();
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fetch that waits before calling upstream and remembers the signals it was given. */
function slowFetch(ms: number) {
  const signals: AbortSignal[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    if (init?.signal) signals.push(init.signal);
    await delay(ms);
    return fetch(input, init);
  };
  return { fetch: wrapped, signals };
}

Deno.test("identical concurrent requests make one upstream call; followers get HIT-COALESCED", async () => {
  await using proxy = await startProxy();
  const body = messageBody("[mock:slow:20]", { stream: true });
  const responses = await Promise.all(Array.from({ length: 6 }, () => postMessage(proxy, body)));
  const bodies = await Promise.all(responses.map(text));
  assert.equal(proxy.mock.count("/v1/messages"), 1);
  const labels = responses.map((r) => r.headers.get("x-cache")).sort();
  assert.deepEqual(labels, [
    "HIT-COALESCED",
    "HIT-COALESCED",
    "HIT-COALESCED",
    "HIT-COALESCED",
    "HIT-COALESCED",
    "MISS",
  ]);
  for (const b of bodies) assert.equal(b, bodies[0]);
  assert.match(bodies[0]!, /event: message_stop/);
});

Deno.test("a follower receives the leader's bytes live, not only after the stream ends", async () => {
  await using proxy = await startProxy();
  const body = messageBody("[mock:slow:100]", { stream: true });
  const started = performance.now();
  const leader = await postMessage(proxy, body);
  const leaderReader = leader.body!.getReader();
  await leaderReader.read();
  await delay(250);
  const follower = await postMessage(proxy, body);
  assert.equal(follower.headers.get("x-cache"), "HIT-COALESCED");
  const reader = follower.body!.getReader();
  const first = await reader.read();
  const firstAt = performance.now() - started;
  assert.match(
    new TextDecoder().decode(first.value),
    /^event: message_start/,
    "starts from the first byte",
  );
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += new TextDecoder().decode(r.value);
  }
  const endAt = performance.now() - started;
  while (!(await leaderReader.read()).done);
  assert.ok(
    endAt - firstAt > 500,
    `follower streamed live: first at ${firstAt} ms, end at ${endAt} ms`,
  );
  assert.match(rest, /message_stop/);
  assert.equal(proxy.mock.count("/v1/messages"), 1);
});

Deno.test("a leader that fails gives its followers the same status and body", async (t) => {
  for (
    const [name, options] of [
      ["upstream 529", {}],
      ["upstream unreachable", { upstream: "http://127.0.0.1:8" }],
    ] as const
  ) {
    await t.step(name, async () => {
      const slow = slowFetch(100);
      await using proxy = await startProxy({ ...options, fetch: slow.fetch });
      const body = messageBody("[mock:529]");
      const responses = await Promise.all(
        Array.from({ length: 4 }, () => postMessage(proxy, body)),
      );
      const bodies = await Promise.all(responses.map(text));
      assert.equal(slow.signals.length, 1, "one upstream call");
      const expected = name === "upstream 529" ? 529 : 502;
      assert.deepEqual(responses.map((r) => r.status), [expected, expected, expected, expected]);
      for (const b of bodies) assert.equal(b, bodies[0]);
      assert.equal(JSON.parse(bodies[0]!).type, "error");
      assert.equal(await proxy.store.count(), 0);
    });
  }
});

Deno.test("the upstream call is aborted only when the last listener leaves", async () => {
  const slow = slowFetch(0);
  await using proxy = await startProxy({ fetch: slow.fetch });
  const body = messageBody("[mock:hang]", { stream: true });
  const b = new AbortController();
  const resA = await postMessage(proxy, body);
  const readerA = resA.body!.getReader();
  await readerA.read();
  const resB = await proxy.fetch("/v1/messages", {
    method: "POST",
    headers: { "anthropic-version": "2023-06-01" },
    body,
    signal: b.signal,
  });
  assert.equal(resB.headers.get("x-cache"), "HIT-COALESCED");
  const readerB = resB.body!.getReader();
  await readerB.read();
  assert.equal(slow.signals.length, 1);
  await readerA.cancel();
  await delay(100);
  assert.equal(slow.signals[0]!.aborted, false, "B still listens");
  b.abort();
  await readerB.cancel().catch(() => {});
  for (let i = 0; i < 50 && !slow.signals[0]!.aborted; i++) await delay(10);
  assert.equal(slow.signals[0]!.aborted, true, "nobody listens: upstream aborted");
  const again = await postMessage(proxy, messageBody("hello"));
  assert.equal(again.status, 200, "the proxy keeps serving");
  await again.body?.cancel();
});

Deno.test("a client that disconnects mid-stream leaves nothing stored and nothing wedged", async () => {
  await using proxy = await startProxy();
  const body = messageBody("[mock:slow:30]", { stream: true });
  const controller = new AbortController();
  const res = await proxy.fetch("/v1/messages", {
    method: "POST",
    headers: { "anthropic-version": "2023-06-01" },
    body,
    signal: controller.signal,
  });
  await res.body!.getReader().read();
  controller.abort();
  await delay(100);
  assert.equal(await proxy.store.count(), 0);
  const again = await postMessage(proxy, body);
  assert.equal(again.headers.get("x-cache"), "MISS", "a new flight, not the abandoned one");
  assert.match(await again.text(), /message_stop/);
  assert.equal(await proxy.store.count(), 1);
});
