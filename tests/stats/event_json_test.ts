import assert from "node:assert/strict";
import { eventJson, monitorEvent } from "../../src/stats/event_json.ts";
import type { CallEvent } from "../../src/stats/events.ts";
import { NO_USAGE } from "../../src/values/usage.ts";

function event(overrides: Partial<CallEvent> = {}): CallEvent {
  return {
    seq: 7,
    time: "2026-11-26T11:00:00.000Z",
    kind: "HIT",
    model: "claude-sonnet-4-5",
    path: "/v1/messages",
    status: 200,
    bytes: 482,
    durationMs: 0.321,
    usage: { ...NO_USAGE, "input_tokens": 25, "output_tokens": 15 },
    dollars: 0.0003,
    snippet: "Hello!",
    key: "2f433e97c0cc",
    ...overrides,
  };
}

Deno.test("eventJson() parses back to what JSON.stringify would give", async (t) => {
  const cases: [string, Partial<CallEvent>][] = [
    ["a hit", {}],
    ["nulls", { model: null, key: null, kind: "PASS" }],
    ["quotes, backslashes, newlines and unicode", {
      model: 'odd "model"\\\n\tname',
      snippet: "line\nbreak \u2028 \u{1F600} \u0000 </script>",
    }],
    ["non-finite numbers", { durationMs: NaN, dollars: Infinity }],
  ];
  for (const [name, overrides] of cases) {
    await t.step(name, () => {
      const e = event(overrides);
      assert.deepEqual(JSON.parse(eventJson(e)), JSON.parse(JSON.stringify(monitorEvent(e))));
    });
  }
});

Deno.test("eventJson() encodes a repeated usage object and snippet from memory, correctly", () => {
  const usage = { ...NO_USAGE, "output_tokens": 1 };
  const first = eventJson(event({ usage, seq: 1 }));
  const second = eventJson(event({ usage, seq: 2 }));
  assert.equal(JSON.parse(first).usage.output_tokens, 1);
  assert.deepEqual(JSON.parse(second), { ...JSON.parse(first), seq: 2 });
});
