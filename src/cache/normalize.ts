/**
 * Normalization rules: what may differ between two requests that should
 * still share a cached answer.
 *
 * The rules come from `$CACHE_HOME/normalize.json` (read and validated by
 * `config.ts` with {@link parseNormalizeRules}):
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
 * - `profile`: one of {@link PROFILES}; applied before the strip patterns.
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
import { applyClaudeCodeProfile, type Profile, PROFILES } from "./claude_code_profile.ts";

/** One step of an ignored field's path. */
export type PathStep =
  | { readonly kind: "field"; readonly name: string }
  | { readonly kind: "every" }
  | { readonly kind: "index"; readonly index: number };

/** A path from `ignore_fields`, as written and as steps. */
export interface FieldPath {
  /** The path as written, e.g. `metadata.user_id`. */
  readonly source: string;
  /** The steps from the body's top level; the last one is a field. */
  readonly steps: readonly PathStep[];
}

/** The validated content of `normalize.json`. */
export interface NormalizeRules {
  /** Deleted from `system` and from `role: "system"` messages. */
  readonly systemStrip: readonly RegExp[];
  /** Deleted from every other message's text and tool results. */
  readonly messageStrip: readonly RegExp[];
  /** Fields removed before hashing the tiers. */
  readonly ignoreFields: readonly FieldPath[];
  /** Also key on the last {@link suffixTurns} messages. @default false */
  readonly suffixOnly: boolean;
  /** How many messages, from the end, the suffix tier keys on. @default 3 */
  readonly suffixTurns: number;
  /** Drop Claude Code's per-request billing block, from every key. @default true */
  readonly claudeCodeBilling: boolean;
  /** A built-in profile applied to the normalized tiers; absent: none. */
  readonly profile?: Profile;
  /** With the `claude-code` profile, keep the git snapshot. @default false */
  readonly keepGitStatus: boolean;
}

/** No `normalize.json`: exact keys only, Claude Code's billing block ignored. */
export const NO_RULES: NormalizeRules = Object.freeze({
  systemStrip: [],
  messageStrip: [],
  ignoreFields: [],
  suffixOnly: false,
  suffixTurns: 3,
  claudeCodeBilling: true,
  keepGitStatus: false,
});

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

const FIELDS = [
  "system_strip",
  "message_strip",
  "ignore_fields",
  "suffix_only",
  "suffix_turns",
  "claude_code_billing",
  "profile",
  "keep_git_status",
];

/**
 * Validates the parsed content of a `normalize.json`.
 *
 * @param json the parsed file
 * @returns the rules; absent fields take their defaults
 * @throws {TypeError} naming the field (and the pattern or path) that is wrong, in one line
 * @example
 * ```ts
 * const rules = parseNormalizeRules({ system_strip: ["Today's date[^\\n]*"] });
 * ```
 */
export function parseNormalizeRules(json: unknown): NormalizeRules {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`it must be a JSON object such as {"system_strip": ["Today's date.*"]}`);
  }
  const fields = json as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((name) => !FIELDS.includes(name));
  if (unknown.length > 0) {
    throw new TypeError(
      `unknown field${unknown.length === 1 ? "" : "s"} ${unknown.map(quote).join(", ")} ` +
        `(the fields are ${FIELDS.join(", ")})`,
    );
  }
  return {
    systemStrip: stringList(fields, "system_strip").map((p, i) => pattern(p, `system_strip[${i}]`)),
    messageStrip: stringList(fields, "message_strip").map((p, i) =>
      pattern(p, `message_strip[${i}]`)
    ),
    ignoreFields: stringList(fields, "ignore_fields").map((p, i) =>
      fieldPath(p, `ignore_fields[${i}]`)
    ),
    suffixOnly: boolean(fields, "suffix_only", NO_RULES.suffixOnly),
    suffixTurns: turns(fields.suffix_turns),
    claudeCodeBilling: boolean(fields, "claude_code_billing", NO_RULES.claudeCodeBilling),
    ...profileOf(fields),
  };
}

function profileOf(
  fields: Record<string, unknown>,
): { profile?: Profile; keepGitStatus: boolean } {
  const keepGitStatus = boolean(fields, "keep_git_status", NO_RULES.keepGitStatus);
  const profile = fields.profile;
  if (profile === undefined) {
    if (keepGitStatus) throw new TypeError(`keep_git_status needs "profile": "claude-code"`);
    return { keepGitStatus };
  }
  if (!PROFILES.includes(profile as Profile)) {
    throw new TypeError(
      `profile ${JSON.stringify(profile)} is not a built-in profile (the profiles are ` +
        `${PROFILES.join(", ")})`,
    );
  }
  return { profile: profile as Profile, keepGitStatus };
}

function stringList(fields: Record<string, unknown>, name: string): string[] {
  const value = fields[name];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new TypeError(`${name} must be a list of strings, e.g. ["Today's date.*"]`);
  }
  return value;
}

function pattern(source: string, where: string): RegExp {
  if (source === "") throw new TypeError(`${where} is empty: an empty pattern strips nothing`);
  try {
    return new RegExp(source, "g");
  } catch (e) {
    const reason = (e as Error).message.replace(/^Invalid regular expression: \/.*\/\w*: /s, "");
    throw new TypeError(
      `${where} ${quote(source)} is not a regular expression (${reason}); escape a literal ` +
        `( ) [ ] { } . * + ? with a backslash, written \\\\ in JSON`,
    );
  }
}

/** `name`, `.name`, `[*]` and `[N]`; `^` matches only at the start, so the first step is a name. */
const PATH_STEP = /(?:^|\.)([^.[\]]+)|\[(\*|\d+)\]/y;

function fieldPath(source: string, where: string): FieldPath {
  const steps: PathStep[] = [];
  PATH_STEP.lastIndex = 0;
  while (PATH_STEP.lastIndex < source.length) {
    const m = PATH_STEP.exec(source);
    if (m === null) break;
    steps.push(
      m[1] !== undefined
        ? { kind: "field", name: m[1] }
        : m[2] === "*"
        ? { kind: "every" }
        : { kind: "index", index: Number(m[2]) },
    );
  }
  const whole = PATH_STEP.lastIndex === source.length && source.length > 0;
  if (!whole || steps[0]?.kind !== "field" || steps.at(-1)?.kind !== "field") {
    throw new TypeError(
      `${where} ${quote(source)} is not a field path: write field names joined by dots, ` +
        `[*] for every element of a list, ending in a field, e.g. "metadata.user_id" or ` +
        `"messages[*].content[*].cache_control"`,
    );
  }
  return { source, steps };
}

function boolean(fields: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = fields[name];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`${name} must be true or false`);
  return value;
}

function turns(value: unknown): number {
  if (value === undefined) return NO_RULES.suffixTurns;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`suffix_turns must be a whole number of messages, at least 1 (e.g. 3)`);
  }
  return value;
}

function quote(text: string): string {
  return JSON.stringify(text);
}
