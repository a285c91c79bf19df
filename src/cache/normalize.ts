/**
 * Normalization rules: what may differ between two requests that should
 * still share a cached answer.
 *
 * The rules come from `$CACHE_HOME/normalize.json` (read and validated by
 * `config.ts` with `parseNormalizeRules` of `values/normalize_rules.ts`):
 *
 * ```json
 * {
 *   "system_strip": ["Today's date[^\\n]*"],
 *   "message_strip": ["/home/[^/\\s]+"],
 *   "ignore_fields": ["temperature", "messages[*].content[*].cache_control"],
 *   "suffix_only": false,
 *   "suffix_turns": 3,
 *   "claude_code_billing": true
 * }
 * ```
 *
 * or, for Claude Code, the built-in profile (`claude_code_profile.ts`), alone
 * or with the fields above:
 *
 * ```json
 * { "profile": "claude-code" }
 * ```
 *
 * - `system_strip` / `message_strip`: regular expressions (JavaScript syntax,
 *   applied with the `g` flag) whose matches are deleted from every text the
 *   request carries: `system` as a string or as text blocks, each message's
 *   `content` as a string or as text blocks, and `tool_result` content (a
 *   string or blocks). `system_strip` applies to `system` and to messages with
 *   `role: "system"`; `message_strip` to every other message.
 * - `ignore_fields`: JSON paths removed before hashing: dotted field names,
 *   `[*]` for every element of a list, `[N]` for one; the path ends in a field
 *   name, e.g. `metadata.user_id` or `messages[*].content[*].cache_control`
 *   (a step into a list needs `[*]`: `messages.content` matches nothing).
 * - `suffix_only` / `suffix_turns` (default 3), as in llm-cache-proxy v2: one
 *   more key over the normalized body with `messages` cut to the last
 *   `suffix_turns` messages.
 * - `profile`: one of `PROFILES`; applied before the strip patterns.
 *   `keep_git_status: true` keeps Claude Code's git snapshot (needs the
 *   profile).
 *
 * The tiers: `exact` always; `normalized` when the file names a profile or
 * sets at least one strip pattern or ignored field; `suffix` when `suffix_only` is true. The
 * rules are part of every tier key (`key.ts`), so aliases stored under other
 * rules are never used: editing the file costs tier hits, never a wrong one.
 *
 * One rule is built in and on without the file: Claude Code sends, as a text
 * block of `system`, a line `x-anthropic-billing-header: cc_version=…;
 * cc_entrypoint=…; cch=…;` whose `cch` changes on every request. It is
 * billing attribution, not prompt, so it is dropped already for the EXACT
 * key, as the exact key already drops `metadata`: two otherwise identical
 * Claude Code requests are an exact hit. Only a `system` text block whose
 * whole text is that one line is dropped, so instructions can never hide in
 * it. A body that does not spell {@link BILLING_MARKER} literally (say,
 * with `\u` escapes) keeps the block: a miss, never a wrong hit.
 * `"claude_code_billing": false` keeps the block in every key.
 *
 * @module
 */
import { isJsonObject, type JsonObject, type JsonTree } from "./canonical_json.ts";
import { applyClaudeCodeProfile } from "./claude_code_profile.ts";
import type { NormalizeRules, PathStep } from "../values/normalize_rules.ts";

/** Text every body holding a Claude Code billing block contains: a cheap test before parsing. */
export const BILLING_MARKER = "x-anthropic-billing-header";
const BILLING_LINE = /^x-anthropic-billing-header:[^\n]*$/;

/**
 * Which key tiers beyond the exact one `rules` switch on.
 *
 * @param rules the normalization rules
 * @returns `normalized`: a strip pattern or ignored field is set; `suffix`: `suffix_only`
 */
export function activeTiers(rules: NormalizeRules): { normalized: boolean; suffix: boolean } {
  const normalized = rules.profile !== undefined || rules.systemStrip.length +
          rules.messageStrip.length + rules.ignoreFields.length > 0;
  return { normalized, suffix: rules.suffixOnly };
}

/**
 * Removes Claude Code's billing block from `system`, in place.
 *
 * @param body a parsed request body
 * @returns the same body
 */
export function dropBillingBlock(body: JsonObject): JsonObject {
  const system = body.system;
  if (Array.isArray(system)) body.system = system.filter((block) => !isBillingBlock(block));
  return body;
}

function isBillingBlock(block: JsonTree): boolean {
  return isJsonObject(block) && block.type === "text" && typeof block.text === "string" &&
    BILLING_LINE.test(block.text);
}

/**
 * Applies `ignore_fields`, the profile, then the strip patterns, to a parsed body, in place.
 *
 * @param body a parsed request body
 * @param rules the normalization rules
 * @returns the same body
 */
export function normalizeBody(body: JsonObject, rules: NormalizeRules): JsonObject {
  for (const path of rules.ignoreFields) removePath(body, path.steps, 0);
  if (rules.profile === "claude-code") applyClaudeCodeProfile(body, rules.keepGitStatus);
  if (rules.systemStrip.length > 0 && body.system !== undefined) {
    body.system = stripContent(body.system, rules.systemStrip);
  }
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) {
      if (!isJsonObject(message) || message.content === undefined) continue;
      const patterns = message.role === "system" ? rules.systemStrip : rules.messageStrip;
      if (patterns.length > 0) message.content = stripContent(message.content, patterns);
    }
  }
  return body;
}

function removePath(node: JsonTree | undefined, steps: readonly PathStep[], at: number): void {
  const step = steps[at];
  if (step === undefined || node === undefined) return;
  if (step.kind === "field") {
    if (!isJsonObject(node) || !Object.hasOwn(node, step.name)) return;
    if (at === steps.length - 1) delete node[step.name];
    else removePath(node[step.name], steps, at + 1);
  } else if (Array.isArray(node)) {
    const children = step.kind === "every" ? node : [node[step.index]];
    for (const child of children) removePath(child, steps, at + 1);
  }
}

/** A message's or the system prompt's content: a string, or blocks. */
function stripContent(content: JsonTree, patterns: readonly RegExp[]): JsonTree {
  if (typeof content === "string") return stripText(content, patterns);
  if (Array.isArray(content)) {
    for (const block of content) {
      if (!isJsonObject(block)) continue;
      if (block.type === "text" && typeof block.text === "string") {
        block.text = stripText(block.text, patterns);
      } else if (block.type === "tool_result" && block.content !== undefined) {
        block.content = stripContent(block.content, patterns);
      }
    }
  }
  return content;
}

function stripText(text: string, patterns: readonly RegExp[]): string {
  for (const pattern of patterns) text = text.replace(pattern, "");
  return text;
}
