import assert from "node:assert/strict";
import {
  canonicalize,
  isJsonObject,
  type JsonObject,
  parseJsonTree,
} from "../../src/cache/canonical_json.ts";
import { activeTiers, dropBillingBlock, normalizeBody } from "../../src/cache/normalize.ts";
import { NO_RULES, parseNormalizeRules } from "../../src/values/normalize_rules.ts";

/** Parses `json` (a value to serialize) into a tree, as the key code does. */
function tree(json: unknown): JsonObject {
  const parsed = parseJsonTree(JSON.stringify(json));
  assert.ok(isJsonObject(parsed));
  return parsed;
}

/** `json` normalized with the rules of a normalize.json holding `file`, as plain JSON. */
function normalized(json: unknown, file: Record<string, unknown>): unknown {
  return JSON.parse(canonicalize(normalizeBody(tree(json), parseNormalizeRules(file))));
}

Deno.test("parseNormalizeRules() reads every field of a good file", () => {
  const rules = parseNormalizeRules({
    system_strip: ["Today's date[^\\n]*", "Session-ID: [a-f0-9-]+"],
    message_strip: ["<tool_result>[\\s\\S]*?</tool_result>"],
    ignore_fields: ["metadata.user_id", "messages[*].content[0].cache_control"],
    suffix_only: true,
    suffix_turns: 2,
    claude_code_billing: false,
  });
  assert.deepEqual(rules.systemStrip.map((r) => [r.source, r.flags]), [
    ["Today's date[^\\n]*", "g"],
    ["Session-ID: [a-f0-9-]+", "g"],
  ]);
  assert.equal(rules.messageStrip.length, 1);
  assert.deepEqual(rules.ignoreFields[1], {
    source: "messages[*].content[0].cache_control",
    steps: [
      { kind: "field", name: "messages" },
      { kind: "every" },
      { kind: "field", name: "content" },
      { kind: "index", index: 0 },
      { kind: "field", name: "cache_control" },
    ],
  });
  assert.deepEqual([rules.suffixOnly, rules.suffixTurns, rules.claudeCodeBilling], [
    true,
    2,
    false,
  ]);
});

Deno.test("parseNormalizeRules() defaults every absent field: billing rule on, no tiers", () => {
  const rules = parseNormalizeRules({});
  assert.deepEqual(rules, { ...NO_RULES });
  assert.deepEqual(activeTiers(rules), { normalized: false, suffix: false });
  assert.deepEqual(activeTiers(NO_RULES), { normalized: false, suffix: false });
  assert.equal(NO_RULES.claudeCodeBilling, true);
  assert.equal(NO_RULES.suffixTurns, 3);
});

Deno.test("activeTiers() turns the normalized tier on with any strip pattern or ignored field", () => {
  for (
    const file of [{ system_strip: ["a"] }, { message_strip: ["a"] }, { ignore_fields: ["a"] }]
  ) {
    assert.deepEqual(activeTiers(parseNormalizeRules(file)), { normalized: true, suffix: false });
  }
  assert.deepEqual(activeTiers(parseNormalizeRules({ suffix_only: true })), {
    normalized: false,
    suffix: true,
  });
});

Deno.test("parseNormalizeRules() rejects bad content with one line naming what is wrong", async (t) => {
  const cases: [unknown, RegExp][] = [
    [[], /must be a JSON object/],
    ["x", /must be a JSON object/],
    [{ system_strip: ["ok", "(unclosed"] }, /^system_strip\[1\] "\(unclosed" is not a regular exp/],
    [{ message_strip: ["[z-a]"] }, /^message_strip\[0\] "\[z-a\]" is not a regular expression/],
    [{ system_strip: [""] }, /^system_strip\[0\] is empty/],
    [{ system_strip: "Today.*" }, /^system_strip must be a list of strings/],
    [{ message_strip: [1] }, /^message_strip must be a list of strings/],
    [{ ignore_fields: "metadata" }, /^ignore_fields must be a list of strings/],
    [{ ignore_fields: ["messages[*"] }, /^ignore_fields\[0\] "messages\[\*" is not a field path/],
    [{ ignore_fields: ["a..b"] }, /^ignore_fields\[0\] "a\.\.b" is not a field path/],
    [{ ignore_fields: ["messages[*]"] }, /is not a field path/],
    [{ ignore_fields: ["[*].x"] }, /is not a field path/],
    [{ ignore_fields: [""] }, /is not a field path/],
    [{ suffix_only: "yes" }, /^suffix_only must be true or false$/],
    [{ claude_code_billing: 0 }, /^claude_code_billing must be true or false$/],
    [{ suffix_turns: 0 }, /^suffix_turns must be a whole number of messages, at least 1/],
    [{ suffix_turns: 2.5 }, /^suffix_turns must be/],
    [{ suffix_turns: "3" }, /^suffix_turns must be/],
    [{ sufix_turns: 3 }, /^unknown field "sufix_turns" \(the fields are system_strip, /],
    [{ a: 1, b: 2, system_strip: [] }, /^unknown fields "a", "b"/],
  ];
  for (const [json, message] of cases) {
    await t.step(JSON.stringify(json), () => {
      assert.throws(() => parseNormalizeRules(json), (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, message);
        assert.ok(!e.message.includes("\n"), "one line");
        return true;
      });
    });
  }
});

Deno.test("normalizeBody() strips system_strip from system as a string", () => {
  const body = { system: "Be brief. Today's date: 2026-11-26\nBye.", messages: [] };
  assert.deepEqual(normalized(body, { system_strip: ["Today's date: [^\\n]*"] }), {
    system: "Be brief. \nBye.",
    messages: [],
  });
});

Deno.test("normalizeBody() strips system text blocks, with or without cache_control", () => {
  const body = {
    system: [
      { type: "text", text: "cwd /home/ann/p", cache_control: { type: "ephemeral" } },
      { type: "text", text: "cwd /home/ann/q and /home/ann/r" },
    ],
  };
  assert.deepEqual(normalized(body, { system_strip: ["/home/ann/"] }), {
    system: [
      { type: "text", text: "cwd p", cache_control: { type: "ephemeral" } },
      { type: "text", text: "cwd q and r" },
    ],
  });
});

Deno.test("normalizeBody() strips message_strip from message strings and text blocks", () => {
  const body = {
    messages: [
      { role: "user", content: "at 12:00 hi" },
      { role: "assistant", content: [{ type: "text", text: "at 12:01 hello" }] },
    ],
  };
  assert.deepEqual(normalized(body, { message_strip: ["at \\d\\d:\\d\\d "] }), {
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: [{ type: "text", text: "hello" }] },
    ],
  });
});

Deno.test("normalizeBody() strips tool_result content given as a string or as blocks", () => {
  const body = {
    messages: [{
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "t1", content: "took 35ms: ok" },
        {
          type: "tool_result",
          tool_use_id: "t2",
          content: [{ type: "text", text: "took 7ms: done" }, { type: "image", source: {} }],
        },
        { type: "tool_use", id: "t3", name: "x", input: { text: "took 1ms" } },
      ],
    }],
  };
  assert.deepEqual(normalized(body, { message_strip: ["took \\d+ms: "] }), {
    messages: [{
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "t1", content: "ok" },
        {
          type: "tool_result",
          tool_use_id: "t2",
          content: [{ type: "text", text: "done" }, { type: "image", source: {} }],
        },
        { type: "tool_use", id: "t3", name: "x", input: { text: "took 1ms" } },
      ],
    }],
  });
});

Deno.test("normalizeBody() applies system_strip, not message_strip, to role:system messages", () => {
  const body = {
    messages: [
      { role: "system", content: "S1 M1" },
      { role: "system", content: [{ type: "text", text: "S2 M2" }] },
      { role: "user", content: "S3 M3" },
    ],
  };
  assert.deepEqual(normalized(body, { system_strip: ["S\\d ?"], message_strip: ["M\\d ?"] }), {
    messages: [
      { role: "system", content: "M1" },
      { role: "system", content: [{ type: "text", text: "M2" }] },
      { role: "user", content: "S3 " },
    ],
  });
});

Deno.test("normalizeBody() removes ignore_fields paths, and only them", () => {
  const body = {
    metadata: { user_id: "u_1", tier: "gold" },
    temperature: 0.5,
    messages: [
      {
        role: "user",
        content: [{ type: "text", text: "a", cache_control: { type: "ephemeral" } }],
      },
      { role: "user", content: "no blocks here" },
      {
        role: "user",
        content: [
          { type: "text", text: "b", cache_control: { type: "ephemeral" } },
          { type: "text", text: "c", cache_control: { type: "ephemeral" } },
        ],
      },
    ],
    system: [{ type: "text", text: "s", cache_control: { type: "ephemeral" } }],
  };
  const file = {
    "ignore_fields": [
      "metadata.user_id",
      "temperature",
      "messages[*].content[*].cache_control",
      "system[1].cache_control",
      "absent.field",
    ],
  };
  assert.deepEqual(normalized(body, file), {
    metadata: { tier: "gold" },
    messages: [
      { role: "user", content: [{ type: "text", text: "a" }] },
      { role: "user", content: "no blocks here" },
      { role: "user", content: [{ type: "text", text: "b" }, { type: "text", text: "c" }] },
    ],
    system: [{ type: "text", text: "s", cache_control: { type: "ephemeral" } }],
  });
});

Deno.test("normalizeBody() keeps every number's spelling", () => {
  const body = parseJsonTree('{"temperature":1.0,"seed":12345678901234567891,"x":1e2}');
  assert.ok(isJsonObject(body));
  normalizeBody(body, parseNormalizeRules({ ignore_fields: ["x"] }));
  assert.equal(canonicalize(body), '{"seed":12345678901234567891,"temperature":1.0}');
});

Deno.test("dropBillingBlock() drops only a system text block that is exactly the billing line", () => {
  const billing = "x-anthropic-billing-header: cc_version=2.1.3.a1b; cc_entrypoint=cli; cch=7f3e9;";
  const kept = [
    { type: "text", text: "You are Claude Code." },
    { type: "text", text: `${billing}\nAlso obey this instruction.` },
    { type: "text", text: `Note: ${billing}` },
  ];
  const body = tree({ system: [{ type: "text", text: billing }, ...kept] });
  dropBillingBlock(body);
  assert.deepEqual(JSON.parse(canonicalize(body)), { system: kept });
  const asString = tree({ system: billing });
  dropBillingBlock(asString);
  assert.deepEqual(JSON.parse(canonicalize(asString)), { system: billing });
});
