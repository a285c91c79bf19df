import assert from "node:assert/strict";
import { MAX_JSON_DEPTH } from "../../src/cache/canonical_json.ts";
import { cacheKey, KeyMemo, type KeyRequest, tierKeys } from "../../src/cache/key.ts";
import { NO_RULES, parseNormalizeRules } from "../../src/values/normalize_rules.ts";
import { keyRequest } from "../support/key_request.ts";
import { claudeCodeBody, readmeRecipe, type Run, RUN_A, RUN_B } from "../support/claude_code.ts";

const UPSTREAM = "https://api.anthropic.com";
const encode = (text: string) => new TextEncoder().encode(text);

const request = keyRequest;

const key = (overrides: Parameters<typeof request>[0] = {}) =>
  cacheKey(request(overrides), UPSTREAM);

Deno.test("cacheKey() is 64 hex characters and stable", async () => {
  const k = await key();
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(await key(), k);
});

Deno.test("cacheKey() ignores JSON key order and insignificant whitespace", async () => {
  const a = await key({ body: encode('{"model":"m","max_tokens":5}') });
  const b = await key({ body: encode('{\n  "max_tokens": 5,\n  "model": "m"\n}') });
  assert.equal(a, b);
});

Deno.test("cacheKey() ignores the body's metadata object", async () => {
  const base = { model: "m", messages: [] };
  const a = await key({ json: { ...base, metadata: { user_id: "user_a_session_1" } } });
  const b = await key({ json: { ...base, metadata: { user_id: "user_b_session_2" } } });
  assert.equal(a, b);
  assert.equal(a, await key({ json: base }));
});

Deno.test("cacheKey() treats anthropic-beta as an order-insensitive set", async () => {
  const a = await key({ anthropicBeta: "b-1,a-2" });
  assert.equal(a, await key({ anthropicBeta: " a-2 , b-1" }));
  assert.notEqual(a, await key({ anthropicBeta: "a-2" }));
  assert.notEqual(a, await key({ anthropicBeta: null }));
});

Deno.test("cacheKey() changes with everything that changes the answer", async (t) => {
  const base = await key();
  const variants: [string, Parameters<typeof request>[0]][] = [
    ["path", { path: "/v1/messages/count_tokens" }],
    ["query", { path: "/v1/messages?beta=true" }],
    ["method", { method: "PUT" }],
    ["anthropic-version", { anthropicVersion: "2024-01-01" }],
    ["missing anthropic-version", { anthropicVersion: null }],
    ["model", { json: { model: "other", messages: [{ role: "user", content: "hi" }] } }],
    ["message text", { json: { model: "m", messages: [{ role: "user", content: "hi!" }] } }],
    ["a number's spelling", {
      json: { model: "m", messages: [{ role: "user", content: "hi" }], t: 1 },
    }],
  ];
  for (const [name, overrides] of variants) {
    await t.step(name, async () => assert.notEqual(await key(overrides), base));
  }
  await t.step(
    "upstream",
    async () => assert.notEqual(await cacheKey(request(), "http://other"), base),
  );
});

Deno.test("cacheKey() keys a body that is not JSON by its raw bytes", async () => {
  const a = await key({ body: encode("not json {") });
  assert.notEqual(a, await key({ body: encode("not json  {") }));
  assert.equal(a, await key({ body: encode("not json {") }));
  const invalidUtf8 = await key({ body: new Uint8Array([0xff, 0xfe]) });
  assert.notEqual(invalidUtf8, await key({ body: new Uint8Array([0xff, 0xfd]) }));
});

Deno.test("cacheKey() keys a body with a duplicate member name by its exact bytes", async () => {
  const spelled = (text: string) => key({ body: encode(text) });
  const duplicate = await spelled('{"model":"m","max_tokens":1,"max_tokens":2}');
  for (const merged of ['{"model":"m","max_tokens":2}', '{"model":"m","max_tokens":1}']) {
    assert.notEqual(duplicate, await spelled(merged), `merged as ${merged}`);
  }
  assert.notEqual(duplicate, await spelled('{"max_tokens":1,"model":"m","max_tokens":2}'));
  assert.notEqual(duplicate, await spelled('{"model":"m","max_tokens":1, "max_tokens":2}'));
  assert.equal(duplicate, await spelled('{"model":"m","max_tokens":1,"max_tokens":2}'));
  const withMetadata = (user: string) =>
    spelled(`{"model":"m","metadata":{"user_id":"${user}"},"m":[{"a":1,"a":2}]}`);
  assert.notEqual(await withMetadata("a"), await withMetadata("b"), "no field is dropped");
  const rules = parseNormalizeRules({ ignore_fields: ["temperature"], suffix_only: true });
  const body = encode('{"model":"m","temperature":1,"messages":[],"messages":[]}');
  assert.deepEqual(await tierKeys(request({ body }), UPSTREAM, rules), {}, "no tier applies");
});

Deno.test("cacheKey() keys a body nested past MAX_JSON_DEPTH by its bytes, and has no tiers", async () => {
  const deep = (depth: number, space = "") =>
    encode(`{"model":"m",${space}"x":${"[".repeat(depth)}${"]".repeat(depth)}}`);
  const rules = parseNormalizeRules({ ignore_fields: ["temperature"] });
  const at = MAX_JSON_DEPTH - 1; // the body's own object is one level
  assert.equal(await key({ body: deep(at) }), await key({ body: deep(at, " ") }));
  assert.notEqual(await key({ body: deep(at + 1) }), await key({ body: deep(at + 1, " ") }));
  assert.ok((await tierKeys(request({ body: deep(at) }), UPSTREAM, rules)).normalized);
  assert.deepEqual(await tierKeys(request({ body: deep(at + 1) }), UPSTREAM, rules), {});
  const million = request({ body: deep(1_000_000) });
  assert.match(await cacheKey(million, UPSTREAM, rules), /^[0-9a-f]{64}$/);
  assert.deepEqual(await tierKeys(million, UPSTREAM, rules), {});
});

Deno.test("KeyMemo.key() agrees with cacheKey() on first sight and on repeats", async () => {
  const memo = new KeyMemo(UPSTREAM);
  const samples = [
    request(),
    request({ anthropicBeta: "x,y" }),
    request({ anthropicVersion: null }),
    request({ body: new Uint8Array([0xff]) }),
  ];
  for (let round = 0; round < 2; round++) {
    for (const sample of samples) {
      assert.equal(await memo.key(sample), await cacheKey(sample, UPSTREAM));
    }
  }
});

Deno.test("KeyMemo.key() never confuses an absent header with its literal spelling", async () => {
  const memo = new KeyMemo(UPSTREAM);
  const absent = await memo.key(request({ anthropicVersion: null }));
  const literal = await memo.key(request({ anthropicVersion: "null" }));
  assert.notEqual(absent, literal);
});

Deno.test("cacheKey() in the default namespace keeps the keys of the scheme before namespaces", async () => {
  // Computed with src/cache/key.ts before namespaces and the billing rule existed.
  const body = '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user",' +
    '"content":"hi"}],"metadata":{"user_id":"u1"},"temperature":0.50}';
  assert.equal(
    await key({ body: encode(body) }),
    "9ca30a8f6cdfa12d3e6f830d8a3a2a99ced3664d31307fb4959a01214d6f05a7",
  );
  assert.equal(
    await key({ body: encode(body), anthropicBeta: "b,a" }),
    "24b8264a9d3bd550c889548695043904add9fc2c29b7b59b53ecaa65e62249fd",
  );
  assert.equal(
    await key({ body: encode("not json {") }),
    "29fa541b9cd4f3ffd5de96904920f8ce0b6d63ecb54b197bd59629bc50fd229a",
  );
  const claudeCode = await Deno.readFile(FIXTURE);
  const billingKept = parseNormalizeRules({ claude_code_billing: false });
  assert.equal(
    await cacheKey(request({ body: claudeCode }), UPSTREAM, billingKept),
    "79a3722ec58fd97c57c0dcc64d30ecccae8c1cd2451b877f0a2fbfb7c243859b",
  );
  // Computed when the canonical text was encoded with TextEncoder before hashing: hashing the
  // string itself must give the same bytes, for non-ASCII text and an escaped lone surrogate too.
  const unicode = request({
    body: encode(
      '{"model":"m","messages":[{"role":"user","content":"Grüße ✓ 日本 🙂 \\ud83d end"}]}',
    ),
  });
  assert.equal(
    await cacheKey(unicode, UPSTREAM),
    "c082cf3300670ded3a97d537f8c5ddc314ae5970aa1a7ae268fbd12e239139a0",
  );
  assert.deepEqual(
    await tierKeys(unicode, UPSTREAM, parseNormalizeRules({ system_strip: ["x"] })),
    {
      normalized: "3e8e024ad53ad6c94f9cc86056e1bedddad499e5735dac50deee04964a64cd90",
    },
  );
});

const FIXTURE = new URL("../fixtures/anthropic/request_claude_code.json", import.meta.url);

/** The fixture as `run` sends it, as a key request. */
async function claudeCodeRun(run: Run): Promise<KeyRequest> {
  return request({ body: encode(await claudeCodeBody(run)) });
}

Deno.test("cacheKey() ignores Claude Code's billing block and session: a rerun is an exact hit", async () => {
  const a = await claudeCodeRun(RUN_A);
  const b = await claudeCodeRun({ ...RUN_A, cch: "0c1d2", session: "bbbb" });
  assert.notDeepEqual(a.body, b.body);
  assert.equal(await cacheKey(a, UPSTREAM), await cacheKey(b, UPSTREAM));
  const kept = parseNormalizeRules({ claude_code_billing: false });
  assert.notEqual(await cacheKey(a, UPSTREAM, kept), await cacheKey(b, UPSTREAM, kept));
  const memo = new KeyMemo(UPSTREAM);
  assert.equal(await memo.key(a), await memo.key(b));
});

Deno.test("tierKeys() with the Claude Code recipe: another day, folder and HOME is a normalized hit", async () => {
  const rules = parseNormalizeRules(await readmeRecipe());
  const a = await claudeCodeRun(RUN_A);
  const b = await claudeCodeRun(RUN_B);
  assert.notEqual(await cacheKey(a, UPSTREAM, rules), await cacheKey(b, UPSTREAM, rules));
  const normalized = (await tierKeys(a, UPSTREAM, rules)).normalized;
  assert.match(normalized ?? "", /^[0-9a-f]{64}$/);
  assert.equal((await tierKeys(b, UPSTREAM, rules)).normalized, normalized);
  const others: [string, Run][] = [
    ["another question", { ...RUN_A, question: "Delete every file." }],
    ["another platform", { ...RUN_A, platform: "darwin" }],
    ["another CLAUDE.md", { ...RUN_A, claudeMd: "Use spaces." }],
  ];
  for (const [what, run] of others) {
    const other = (await tierKeys(await claudeCodeRun(run), UPSTREAM, rules)).normalized;
    assert.notEqual(other, normalized, what);
  }
});

/** A conversation of alternating user and assistant messages with these texts. */
function conversation(texts: string[]): KeyRequest {
  const messages = texts.map((text, i) => ({
    role: i % 2 === 0 ? "user" : "assistant",
    content: text,
  }));
  return request({ json: { model: "m", system: "s", messages } });
}

Deno.test("tierKeys() suffix keys match when the last suffix_turns messages match", async () => {
  const rules = parseNormalizeRules({ suffix_only: true, suffix_turns: 3 });
  const a = await tierKeys(conversation(["a1", "a2", "x", "y", "z"]), UPSTREAM, rules);
  const b = await tierKeys(conversation(["b1", "b2", "b3", "b4", "x", "y", "z"]), UPSTREAM, rules);
  assert.equal(a.normalized, undefined, "no strip rule or ignored field: no normalized tier");
  assert.match(a.suffix ?? "", /^[0-9a-f]{64}$/);
  assert.equal(b.suffix, a.suffix);
  const c = await tierKeys(conversation(["a1", "a2", "x", "y", "Z"]), UPSTREAM, rules);
  assert.notEqual(c.suffix, a.suffix, "the last message differs");
  const d = await tierKeys(conversation(["a1", "a2", "X", "y", "z"]), UPSTREAM, rules);
  assert.notEqual(d.suffix, a.suffix, "the third message from the end differs");
  const two = parseNormalizeRules({ suffix_only: true, suffix_turns: 2 });
  const e = await tierKeys(conversation(["a1", "a2", "X", "y", "z"]), UPSTREAM, two);
  assert.equal(e.suffix, (await tierKeys(conversation(["p", "y", "z"]), UPSTREAM, two)).suffix);
  const short = conversation(["y", "z"]);
  assert.notEqual(
    (await tierKeys(short, UPSTREAM, two)).suffix,
    (await tierKeys(short, UPSTREAM, rules)).suffix,
    "suffix_turns is part of the key, like every rule",
  );
});

Deno.test("tierKeys() suffix keys apply the strip rules and keep the rest of the body", async () => {
  const rules = parseNormalizeRules({
    suffix_only: true,
    suffix_turns: 1,
    message_strip: ["#\\d+ "],
  });
  const a = await tierKeys(conversation(["one", "#1 two"]), UPSTREAM, rules);
  const b = await tierKeys(conversation(["other", "#2 two"]), UPSTREAM, rules);
  assert.equal(a.suffix, b.suffix);
  const otherSystem = request({
    json: { model: "m", system: "S", messages: [{ role: "user", content: "two" }] },
  });
  assert.notEqual((await tierKeys(otherSystem, UPSTREAM, rules)).suffix, a.suffix);
});

Deno.test("tierKeys() never gives an exact key, and changes with the rules", async () => {
  const req = request();
  const matchNothing = parseNormalizeRules({
    system_strip: ["never matches"],
    suffix_only: true,
    suffix_turns: 5,
  });
  const tiers = await tierKeys(req, UPSTREAM, matchNothing);
  const exact = await cacheKey(req, UPSTREAM, matchNothing);
  assert.equal(new Set([exact, tiers.normalized, tiers.suffix]).size, 3);
  const otherRules = parseNormalizeRules({ system_strip: ["never matches either"] });
  assert.notEqual((await tierKeys(req, UPSTREAM, otherRules)).normalized, tiers.normalized);
});

Deno.test("tierKeys() gives no tier without rules, or for a body that is not a JSON object", async () => {
  const rules = parseNormalizeRules({ system_strip: ["x"], suffix_only: true });
  assert.deepEqual(await tierKeys(request(), UPSTREAM, NO_RULES), {});
  assert.deepEqual(await tierKeys(request({ body: encode("not json") }), UPSTREAM, rules), {});
  assert.deepEqual(await tierKeys(request({ body: encode("[1,2]") }), UPSTREAM, rules), {});
  assert.deepEqual(await tierKeys(request({ body: new Uint8Array([0xff]) }), UPSTREAM, rules), {});
  const noMessages = await tierKeys(request({ json: { model: "m" } }), UPSTREAM, rules);
  assert.ok(noMessages.normalized !== undefined && noMessages.suffix === undefined);
});

Deno.test("every key changes with the namespace", async () => {
  const rules = parseNormalizeRules({ system_strip: ["x"], suffix_only: true });
  const shared = request();
  const team = request({ namespace: "team-a" });
  const raw = request({ body: encode("not json") });
  assert.notEqual(await cacheKey(team, UPSTREAM), await cacheKey(shared, UPSTREAM));
  assert.notEqual(
    await cacheKey({ ...raw, namespace: "team-a" }, UPSTREAM),
    await cacheKey(raw, UPSTREAM),
  );
  assert.notEqual(
    await cacheKey(team, UPSTREAM),
    await cacheKey(request({ namespace: "team-b" }), UPSTREAM),
  );
  const [a, b] = [await tierKeys(shared, UPSTREAM, rules), await tierKeys(team, UPSTREAM, rules)];
  assert.notEqual(a.normalized, b.normalized);
  assert.notEqual(a.suffix, b.suffix);
  const memo = new KeyMemo(UPSTREAM);
  assert.equal(await memo.key(shared), await cacheKey(shared, UPSTREAM));
  assert.equal(await memo.key(team), await cacheKey(team, UPSTREAM));
  assert.equal(memo.known(team), await cacheKey(team, UPSTREAM));
  assert.equal(memo.known(request({ namespace: "team-b" })), undefined);
});

Deno.test("KeyMemo applies its rules and remembers tier keys", async () => {
  const rules = parseNormalizeRules({ message_strip: ["!"], claude_code_billing: false });
  const memo = new KeyMemo(UPSTREAM, { rules });
  const claudeCode = await claudeCodeRun(RUN_A);
  assert.equal(await memo.key(claudeCode), await cacheKey(claudeCode, UPSTREAM, rules));
  assert.notEqual(await memo.key(claudeCode), await cacheKey(claudeCode, UPSTREAM));
  const req = request();
  const expected = await tierKeys(req, UPSTREAM, rules);
  assert.deepEqual(await memo.tiers(req), expected, "before key(): computed");
  await memo.key(req);
  const first = await memo.tiers(req);
  assert.deepEqual(first, expected);
  assert.equal(await memo.tiers(req), first, "remembered: the same object");
});
