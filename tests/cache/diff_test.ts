import assert from "node:assert/strict";
import { MAX_JSON_DEPTH } from "../../src/cache/canonical_json.ts";
import { type DiffLine, requestDiff } from "../../src/cache/diff.ts";
import {
  boundedMissReason,
  missReason,
  nearest,
  ParsedRequests,
  parseRequest,
} from "../../src/cache/miss_reason.ts";
import type { SimilarRequest } from "../../src/store/store.ts";

const FIXTURE = new URL("../fixtures/anthropic/request_claude_code.json", import.meta.url);
const SAME_BODY = "same body; headers differ (anthropic-version, anthropic-beta or namespace)";

// deno-lint-ignore no-explicit-any
type Body = Record<string, any>;

function bytes(body: Body | string): Uint8Array {
  return new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));
}

/** A request with `count` messages: user, assistant, user, … saying `turn N`. */
function chat(count: number, overrides: Body = {}): Body {
  const messages = Array.from({ length: count }, (_, i) => ({
    role: i % 2 === 0 ? "user" : "assistant",
    content: `turn ${i}`,
  }));
  return {
    model: "claude-sonnet-4-5",
    max_tokens: 100,
    system: "Be brief.",
    messages,
    ...overrides,
  };
}

function stored(key: string, body: Body | string, createdAt = 1_000): SimilarRequest {
  return { key, request: bytes(body), createdAt };
}

function reason(request: Body, candidate: Body): string | undefined {
  return missReason(bytes(request), stored("c", candidate));
}

Deno.test("nearest() picks the stored request the fewest messages apart", () => {
  const candidates = [stored("one", chat(1)), stored("six", chat(6)), stored("three", chat(3))];
  assert.equal(nearest(bytes(chat(4)), candidates)?.key, "three");
  assert.equal(nearest(bytes(chat(7)), candidates)?.key, "six");
  assert.equal(nearest(bytes(chat(0)), candidates)?.key, "one");
});

Deno.test("nearest() breaks ties by the longest shared message prefix, then the newest", async (t) => {
  await t.step("shared prefix", () => {
    const other = chat(3);
    other.messages[0].content = "something else";
    const candidates = [stored("other", other, 3_000), stored("same-start", chat(3), 1_000)];
    assert.equal(nearest(bytes(chat(3)), candidates)?.key, "same-start");
  });
  await t.step("newest", () => {
    const candidates = [
      stored("old", chat(5), 1_000),
      stored("new", chat(5), 2_000),
      stored("older", chat(5), 500),
    ];
    assert.equal(nearest(bytes(chat(4)), candidates)?.key, "new");
  });
  await t.step("a nearer count wins over a longer prefix", () => {
    const near = chat(2);
    near.messages[0].content = "changed";
    const candidates = [stored("far", chat(9), 5_000), stored("near", near, 1_000)];
    assert.equal(nearest(bytes(chat(3)), candidates)?.key, "near");
  });
});

Deno.test("nearest() has no answer without comparable JSON", () => {
  assert.equal(nearest(bytes(chat(2)), []), undefined);
  assert.equal(nearest(bytes("not json"), [stored("a", chat(2))]), undefined);
  assert.equal(nearest(bytes(chat(2)), [stored("bad", "{oops"), stored("arr", "[1]")]), undefined);
  assert.equal(nearest(bytes(chat(2)), [stored("bad", "{oops"), stored("ok", chat(8))])?.key, "ok");
});

Deno.test("missReason() names the top-level field that differs", () => {
  assert.equal(reason(chat(2, { system: "Be long." }), chat(2)), "system differs");
  assert.equal(reason(chat(2, { max_tokens: 200 }), chat(2)), "max_tokens differs");
  assert.equal(reason(chat(2, { tools: [{ name: "Bash" }] }), chat(2)), "tools differ");
  assert.equal(reason(chat(2, { model: "claude-opus-4" }), chat(2)), "model differs");
  const one = JSON.stringify(chat(2, { temperature: 1 }));
  const numbers = one.replace('"temperature":1', '"temperature":1.0');
  assert.equal(missReason(bytes(one), stored("c", numbers)), "temperature differs");
  assert.equal(reason(chat(2, { "Ünïcode key": 1 }), chat(2)), "a top-level field differs");
});

Deno.test("missReason() names the message index that differs", () => {
  const content = chat(4);
  content.messages[1].content = "a secret answer";
  assert.equal(reason(content, chat(4)), "messages[1].content differs");
  const whole = chat(4);
  whole.messages[3] = { role: "user", content: "other" };
  assert.equal(reason(whole, chat(4)), "messages[3] differs");
});

Deno.test("missReason() counts extra and missing messages", () => {
  assert.equal(reason(chat(5), chat(3)), "2 more messages");
  assert.equal(reason(chat(4), chat(3)), "1 more message");
  assert.equal(reason(chat(2), chat(3)), "1 fewer message");
});

Deno.test("missReason() lists the first few differences, then how many more", () => {
  const request = chat(6, { system: "x", max_tokens: 1, temperature: 0.5 });
  request.messages[2].content = "changed";
  const text = reason(request, chat(3))!;
  assert.equal(text, "max_tokens differs, system differs, temperature differs, +2 more");
  const short = reason(chat(1, { a: 1, b: 1, c: 1, d: 1, e: 1 }), chat(1));
  assert.equal(short, "a differs, b differs, c differs, +2 more");
  const deep = chat(120);
  for (const m of deep.messages.slice(100)) m.content = "changed";
  const wide = reason(deep, chat(120))!;
  assert.equal(wide, "messages[100].content differs, messages[101].content differs, +18 more");
  const many = chat(20);
  for (const m of many.messages) m.content = "changed";
  const long = reason(many, chat(20, { system: "y", tool_choice: { type: "any" } }))!;
  assert.ok(long.length <= 80, long);
  assert.match(
    long,
    /^system differs, tool_choice differs, messages\[0\]\.content differs, \+19 more$/,
  );
});

Deno.test("missReason() puts nothing from the prompt into the header", () => {
  const request = chat(3, { system: "Today's date: 2026-11-27 ☃" });
  request.messages[1].content = "my secret";
  const text = reason(request, chat(3))!;
  assert.match(text, /^[\x20-\x7e]+$/);
  assert.ok(!text.includes("2026") && !text.includes("secret"), text);
});

Deno.test("missReason() blames the headers when the bodies are equal but for metadata", () => {
  const a = chat(2, { metadata: { user_id: "session-a" } });
  const b = { ...chat(2, { metadata: { user_id: "session-b" } }) };
  // The same fields in another order are the same body.
  const reordered = Object.fromEntries(Object.entries(b).reverse());
  assert.equal(reason(a, reordered), SAME_BODY);
  assert.equal(missReason(bytes("plain text"), stored("c", chat(2))), undefined);
});

function fixture(): Body {
  return JSON.parse(Deno.readTextFileSync(FIXTURE));
}

/** The fixture with a 5 KB system prompt around its date line. */
function claudeCode(date: string): Body {
  const body = fixture();
  const filler = "Follow the repository conventions. ".repeat(80);
  body.system[2].text = `${filler}\n${body.system[2].text.replace("2026-11-26", date)}\n${filler}`;
  return body;
}

Deno.test("requestDiff() shows the changed date inside a long system prompt and an extra message", () => {
  const before = claudeCode("2026-11-26");
  const after = claudeCode("2026-11-27");
  assert.ok(after.system[2].text.length > 5000);
  after.metadata.user_id = "another session";
  after.max_tokens = 64000;
  after.messages.push({ role: "assistant", content: [{ type: "text", text: "a.txt b.txt" }] });
  const lines = requestDiff(bytes(before), bytes(after));
  assert.deepEqual(lines.map((l) => [l.path, l.kind]), [
    ["max_tokens", "changed"],
    ["system[2].text", "changed"],
    ["messages[1]", "added"],
  ]);
  const [tokens, date, message] = lines as [DiffLine, DiffLine, DiffLine];
  assert.deepEqual([tokens.before, tokens.after], ["32000", "64000"]);
  assert.match(date.before!, /^"….*Today's date: 2026-11-26\\n<\/env>.*…"$/);
  assert.match(date.after!, /^"….*Today's date: 2026-11-27\\n<\/env>.*…"$/);
  assert.ok(date.before!.length < 200 && date.after!.length < 200, date.after);
  assert.equal(message.before, undefined);
  assert.equal(
    message.after,
    '{"role":"assistant","content":[{"type":"text","text":"a.txt b.txt"}]}',
  );
});

Deno.test("requestDiff() walks into blocks and reports removed fields", () => {
  const before = fixture();
  const after = fixture();
  after.messages[0].content[0].text = "List the files here.";
  delete after.tools;
  after.system.pop();
  after.stream = false;
  const lines = requestDiff(bytes(before), bytes(after));
  assert.deepEqual(lines.map((l) => [l.path, l.kind, l.before?.slice(0, 40), l.after]), [
    ["stream", "changed", "true", "false"],
    ["system[2]", "removed", '{"type":"text","text":"Here is useful in', undefined],
    ["tools", "removed", '[{"name":"Bash","description":"Executes ', undefined],
    [
      "messages[0].content[0].text",
      "changed",
      '"List the files in this folder."',
      '"List the files here."',
    ],
  ]);
  assert.ok(lines[1]!.before!.length <= 120 && lines[1]!.before!.endsWith("…"));
  assert.deepEqual(requestDiff(bytes(before), bytes(fixture())), []);
  assert.deepEqual(requestDiff(bytes("nope"), bytes(before)), []);
});

Deno.test("requestDiff() quotes odd keys in paths", () => {
  const lines = requestDiff(bytes({ tools: [{ "a-b": 1 }] }), bytes({ tools: [{ "a-b": 2 }] }));
  assert.deepEqual(lines, [{ path: 'tools[0]["a-b"]', kind: "changed", before: "1", after: "2" }]);
});

Deno.test("nearest(), missReason() and requestDiff() skip a body nested past MAX_JSON_DEPTH", () => {
  const deep = (depth: number, x: number) =>
    bytes(`{"model":"m","x":${x},"y":${"[".repeat(depth)}${"]".repeat(depth)}}`);
  const at = MAX_JSON_DEPTH - 1; // the body's own object is one level
  const near = { key: "c", request: deep(at, 2), createdAt: 1 };
  assert.equal(missReason(deep(at, 1), near), "x differs");
  assert.equal(requestDiff(deep(at, 1), near.request).length, 1);
  const far = { key: "c", request: deep(at + 1, 2), createdAt: 1 };
  assert.equal(missReason(deep(at + 1, 1), far), undefined);
  assert.equal(missReason(deep(at, 1), far), undefined);
  assert.equal(nearest(deep(at + 1, 1), [near]), undefined);
  assert.equal(nearest(deep(at, 1), [far]), undefined);
  assert.deepEqual(requestDiff(deep(at + 1, 1), far.request), []);
  const million = deep(1_000_000, 1);
  assert.equal(nearest(million, [{ ...far, request: million }]), undefined);
  assert.equal(missReason(million, { request: million }), undefined);
});

Deno.test("boundedMissReason() never parses past its byte budget, request included", () => {
  const raw = bytes(chat(4));
  const request = parseRequest(raw);
  // The nearest candidate (three messages) is padded past the budget: it must not be chosen.
  const padded = stored("padded", chat(3, { system: "x".repeat(10_000) }));
  const far = stored("far", chat(1, { max_tokens: 7 }));
  const budget = raw.byteLength + far.request.byteLength + 10;
  assert.equal(
    reason(chat(4), chat(3, { system: "x".repeat(10_000) })),
    "system differs, 1 more message",
  );
  assert.equal(
    boundedMissReason(request, [padded, far], budget),
    "max_tokens differs, 3 more messages",
  );
  assert.equal(
    boundedMissReason(request, [padded, far], Infinity),
    "system differs, 1 more message",
    "with room, the nearest wins",
  );
  assert.equal(boundedMissReason(request, [far], raw.byteLength - 1), undefined);
  assert.equal(boundedMissReason(request, [far], raw.byteLength), undefined, "no room left");
});

Deno.test("boundedMissReason() parses a stored request once, then remembers it outside the budget", () => {
  const memo = new ParsedRequests(1024 * 1024);
  const raw = bytes(chat(4));
  const request = parseRequest(raw);
  const three = stored("three", chat(3));
  assert.equal(
    boundedMissReason(request, [three], Infinity, memo),
    "1 more message",
  );
  // The same key again, its bytes now unreadable and past the budget: the remembered parse serves.
  const again = { ...three, request: new Uint8Array(10_000) };
  assert.equal(boundedMissReason(request, [again], raw.byteLength, memo), "1 more message");
  assert.equal(boundedMissReason(request, [again], raw.byteLength), undefined, "no memo");
});
