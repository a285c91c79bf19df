/**
 * The file checks of `validate` (private to `config_check.ts`): `.env`'s
 * mode, lines and names (with typo suggestions), `prices.json`,
 * `normalize.json`, and whether a log file can be written.
 *
 * @module
 */
import { parse as parseDotenv } from "dotenv";
import { exists } from "./fs.ts";
import { formatPlural } from "./format.ts";
import type { PriceRule } from "./values/prices.ts";
import { NO_RULES, type NormalizeRules } from "./values/normalize_rules.ts";
import { PROFILES } from "./values/normalize_rules.ts";
import { readNormalize, readPrices } from "./config.ts";
import { ConfigError } from "./config_vars.ts";
import { type ConfigCheck, KNOWN_VARIABLES } from "./_config_values.ts";

/**
 * Why a file at `path` could not be appended to or created, without writing to it.
 *
 * @param path the file, e.g. CACHE_LOG_FILE's value
 * @returns the reason, or undefined when the file can be written
 */
export async function unwritable(path: string): Promise<string | undefined> {
  try {
    (await Deno.open(path, { append: true })).close();
    return undefined;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return `cannot open it for writing (${message(e)})`;
  }
  // No file yet: the nearest existing folder must take a new file (the logger makes the rest).
  let dir = parentOf(path);
  for (;;) {
    try {
      if (!(await Deno.stat(dir)).isDirectory) return `${dir} is not a folder`;
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || parentOf(dir) === dir) {
        return `cannot reach its folder ${dir} (${message(e)})`;
      }
      dir = parentOf(dir);
    }
  }
  try {
    await Deno.remove(await Deno.makeTempFile({ dir, prefix: ".llm-cache-proxy-probe-" }));
    return undefined;
  } catch (e) {
    return `cannot create files in ${dir} (${message(e)})`;
  }
}

function parentOf(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut > 0 ? path.slice(0, cut) : cut === 0 ? "/" : ".";
}

/**
 * Checks `.env`: readable, private to its owner, every line `NAME=value`, every name known.
 *
 * @param path `$CACHE_HOME/.env`
 * @returns its checks, and the variables it sets (none when it is missing or unreadable)
 */
export async function checkEnvFile(
  path: string,
): Promise<{ checks: ConfigCheck[]; vars: Record<string, string> }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      const detail = `.env not present (${path}): the environment and defaults apply`;
      return { checks: [{ name: ".env", ok: true, detail }], vars: {} };
    }
    const fix = `Make it a file you own and can read: chmod 600 ${path}`;
    return {
      checks: [{ name: ".env", ok: false, detail: `.env cannot be read: ${message(e)}`, fix }],
      vars: {},
    };
  }
  const vars = parseDotenv(text);
  const count = Object.keys(vars).length;
  return {
    checks: [
      await modeCheck(path, formatPlural(count, "variable")),
      ...lineChecks(text, path),
      ...Object.keys(vars).flatMap((name) => unknownName(name, path)),
    ],
    vars,
  };
}

async function modeCheck(path: string, summary: string): Promise<ConfigCheck> {
  const mode = (await Deno.stat(path)).mode;
  if (mode === null || (mode & 0o077) === 0) {
    const shown = mode === null ? "" : `, mode ${octal(mode)}`;
    return { name: ".env", ok: true, detail: `.env at ${path} (${summary}${shown})` };
  }
  const who = mode & 0o044 ? "readable" : "writable";
  return {
    name: ".env",
    ok: false,
    detail: `.env at ${path} is ${who} by other users (mode ${octal(mode)}); ` +
      "it is where your API key and settings live",
    fix: `chmod 600 ${path}`,
  };
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** Lines dotenv skips without a word: neither `NAME=value`, a comment, nor part of a quoted value. */
function lineChecks(text: string, path: string): ConfigCheck[] {
  const bad: number[] = [];
  let keyLine: number | undefined;
  let quote: string | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    if (quote !== undefined) {
      if (closes(line, quote, 0)) quote = undefined;
      return;
    }
    if (line.trim() === "" || line.trim().startsWith("#")) return;
    const value = /^\s*(?:export\s+)?[\w.-]+(?:\s*=|:\s)\s*(.*)$/.exec(line)?.[1];
    if (value === undefined) {
      bad.push(i + 1);
      if (line.trim().startsWith("sk-ant-")) keyLine ??= i + 1;
      return;
    }
    const q = value[0];
    if ((q === '"' || q === "'" || q === "`") && !closes(value, q, 1)) quote = q;
  });
  if (bad.length === 0) return [];
  const lines = `line${bad.length === 1 ? "" : "s"} ${bad.join(", ")}`;
  return [{
    name: ".env",
    ok: false,
    detail: `.env ${lines} ${bad.length === 1 ? "is" : "are"} not NAME=value and ignored`,
    fix: keyLine === undefined
      ? `Write each setting as NAME=value (or start the line with # for a comment) in ${path}`
      : `Line ${keyLine} looks like a bare API key: write it as ANTHROPIC_API_KEY_REAL=<key> in ${path}`,
  }];
}

function closes(text: string, quote: string, from: number): boolean {
  for (let i = text.indexOf(quote, from); i !== -1; i = text.indexOf(quote, i + 1)) {
    if (text[i - 1] !== "\\") return true;
  }
  return false;
}

function unknownName(name: string, path: string): ConfigCheck[] {
  if (!/^(CACHE_|ANTHROPIC_)/.test(name) || KNOWN_VARIABLES.includes(name)) return [];
  if (name === "CACHE_HOME") {
    return [{
      name,
      ok: false,
      detail: "CACHE_HOME in .env has no effect: it decides where .env itself is",
      fix: `Remove it from ${path}; set CACHE_HOME in the environment instead`,
    }];
  }
  const closest = closestName(name);
  return [{
    name,
    ok: false,
    detail: `${name} in .env is not a setting of llm-cache-proxy` +
      (closest ? `; did you mean ${closest}?` : ""),
    fix: closest
      ? `Rename it to ${closest} in ${path}`
      : `Remove it from ${path}; the settings are ${KNOWN_VARIABLES.join(", ")}`,
  }];
}

/** The known variable nearest to `name` by edit distance, when near enough to be a typo. */
function closestName(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of KNOWN_VARIABLES) {
    // A name cut short (CACHE_TTL) or run on is nearer than its edit distance says.
    const d = known.startsWith(name) || name.startsWith(known) ? 1 : editDistance(name, known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return bestDistance <= Math.max(3, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * Checks `prices.json`, which overrides the built-in model prices.
 *
 * @param path `$CACHE_HOME/prices.json`
 * @returns its check, and its rules (none when it is missing or invalid)
 */
export async function checkPrices(
  path: string,
): Promise<{ check: ConfigCheck; rules: PriceRule[] }> {
  const name = "prices.json";
  if (!(await exists(path).catch(() => true))) {
    const detail = "prices.json not present (built-in prices)";
    return { check: { name, ok: true, detail }, rules: [] };
  }
  try {
    const rules = await readPrices(path);
    const detail = `prices.json valid (${rules.length} rule${rules.length === 1 ? "" : "s"})`;
    return { check: { name, ok: true, detail }, rules };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const fix = `Fix or remove ${path}: it maps part of a model name to dollars per million ` +
      `tokens, e.g. {"sonnet": {"input": 3, "output": 15}}`;
    return { check: { name, ok: false, detail: e.message, fix }, rules: [] };
  }
}

/**
 * Checks `normalize.json`, the rules that make near-identical requests share a cache key.
 *
 * @param path `$CACHE_HOME/normalize.json`
 * @returns its check, and its rules (`NO_RULES` when it is missing or invalid)
 */
export async function checkNormalize(
  path: string,
): Promise<{ check: ConfigCheck; rules: NormalizeRules }> {
  const name = "normalize.json";
  if (!(await exists(path).catch(() => true))) {
    const detail =
      "normalize.json not present (exact keys only; Claude Code billing block ignored)";
    return { check: { name, ok: true, detail }, rules: NO_RULES };
  }
  try {
    const rules = await readNormalize(path);
    return {
      check: { name, ok: true, detail: `normalize.json valid (${rulesSummary(rules)})` },
      rules,
    };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const fix = `Fix or remove ${path}: it holds regular expressions to strip ` +
      `(system_strip, message_strip), field paths to ignore (ignore_fields), suffix_only, ` +
      `suffix_turns, claude_code_billing, profile (${PROFILES.join(", ")}) and keep_git_status, ` +
      `e.g. {"profile": "claude-code"}`;
    return { check: { name, ok: false, detail: e.message, fix }, rules: NO_RULES };
  }
}

/** E.g. `2 system_strip, 1 message_strip, 1 ignore_fields; suffix_only=false`. */
function rulesSummary(rules: NormalizeRules): string {
  const counts = `${rules.systemStrip.length} system_strip, ${rules.messageStrip.length} ` +
    `message_strip, ${rules.ignoreFields.length} ignore_fields`;
  const suffix = rules.suffixOnly
    ? `suffix_only=true, suffix_turns=${rules.suffixTurns}`
    : "suffix_only=false";
  const billing = rules.claudeCodeBilling ? "" : "; Claude Code billing block kept in keys";
  const profile = rules.profile === undefined
    ? ""
    : `; profile ${rules.profile}${rules.keepGitStatus ? " keeping git status" : ""}`;
  return `${counts}; ${suffix}${billing}${profile}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
