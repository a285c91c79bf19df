/**
 * The schema of `normalize.json`: the rules a user may set, their defaults,
 * and how the file's content is validated (by `config.ts`; `cache/normalize.ts`
 * applies the rules). What each field does is described in `cache/normalize.ts`.
 *
 * @module
 */

/** The profiles `normalize.json` may name. */
export const PROFILES = ["claude-code"] as const;

/** A built-in set of normalization rules for one client. */
export type Profile = (typeof PROFILES)[number];

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
