/**
 * What `llm-cache-proxy validate` checks: every variable and configuration
 * file on its own, so that one bad value does not hide the next. The rules
 * are the ones `loadConfig` applies, from `config.ts`.
 *
 * @module
 */
import { parse as parseDotenv } from "dotenv";
import { exists } from "./fs.ts";
import type { PriceRule } from "./stats/prices.ts";
import { NO_RULES, type NormalizeRules } from "./cache/normalize.ts";
import {
  buildConfig,
  cacheHome,
  type Config,
  ConfigError,
  DEFAULTS,
  definedOnly,
  type Env,
  flag,
  hostAndToken,
  isLoopback,
  lockOf,
  LOG_LEVELS,
  logFile,
  logFormatOf,
  logLevel,
  maxEntriesOf,
  modeOf,
  nonEmpty,
  portOf,
  readNormalize,
  readPrices,
  redactUrl,
  staleOf,
  storeUrlOf,
  ttlOf,
  upstreamUrl,
} from "./config.ts";

/** One checked variable or file, as `validate` shows it. */
export interface ConfigCheck {
  /** What was checked: a variable name, `.env`, `prices.json` or `normalize.json`. */
  readonly name: string;
  /** False when the value or file cannot be used as it is. */
  readonly ok: boolean;
  /** One line: the value and what it means, or what is wrong with it. */
  readonly detail: string;
  /** What to do about it, when not ok. */
  readonly fix?: string;
}

/** What {@link checkConfig} found. */
export interface ConfigReport {
  /** The cache home folder. */
  readonly home: string;
  /** `$CACHE_HOME/.env`. */
  readonly envPath: string;
  /** One check per file and variable, in the order to show them. */
  readonly checks: readonly ConfigCheck[];
  /** The configuration from the values that passed, defaults for those that did not. */
  readonly config: Config;
}

/** Every variable the proxy reads from `.env`; anything else named CACHE_* is a mistake. */
export const KNOWN_VARIABLES: readonly string[] = [
  "ANTHROPIC_API_KEY_REAL",
  "CACHE_PORT",
  "CACHE_HOST",
  "CACHE_AUTH_TOKEN",
  "CACHE_TTL_SEC",
  "CACHE_MAX_ENTRIES",
  "CACHE_OFF",
  "CACHE_MODE",
  "CACHE_STORE",
  "CACHE_LOCK_SEC",
  "CACHE_STALE_SEC",
  "CACHE_QUIET",
  "CACHE_LOG_LEVEL",
  "CACHE_LOG_FILE",
  "CACHE_LOG_FORMAT",
  "CACHE_UPSTREAM",
];

/**
 * Checks every variable and configuration file on its own; unlike
 * `loadConfig` it never stops at the first problem.
 *
 * @param env the process environment, e.g. `Deno.env.toObject()`
 * @returns one check per item, and the configuration that the usable values give
 * @throws {ConfigError} only when there is no home folder to look in
 * @example
 * ```ts
 * const { checks } = await checkConfig(Deno.env.toObject());
 * const problems = checks.filter((c) => !c.ok);
 * ```
 */
export async function checkConfig(env: Env): Promise<ConfigReport> {
  const home = cacheHome(env);
  const envPath = `${home}/.env`;
  const file = await checkEnvFile(envPath);
  const fromEnv = definedOnly(env);
  const vars: Env = { ...file.vars, ...fromEnv };
  const where = { envPath, fromEnv };
  const results = await Promise.all(
    VARIABLE_RULES.map((rule) => checkVariable(rule, vars, home, where)),
  );
  const prices = await checkPrices(`${home}/prices.json`);
  const normalize = await checkNormalize(`${home}/normalize.json`);
  const failed = new Set(
    VARIABLE_RULES.filter((_, i) => !results[i]!.ok).flatMap((rule) => rule.uses),
  );
  const usable = Object.fromEntries(Object.entries(vars).filter(([name]) => !failed.has(name)));
  return {
    home,
    envPath,
    checks: [...file.checks, ...results, prices.check, normalize.check],
    config: buildConfig(usable, home, { prices: prices.rules, normalize: normalize.rules }),
  };
}

/**
 * What is wrong with `key` as an Anthropic API key, if anything.
 *
 * @param key the value of ANTHROPIC_API_KEY_REAL
 * @returns the reason, or undefined for a plausible key
 */
export function apiKeyProblem(key: string): string | undefined {
  if (/\s/.test(key)) return "it contains spaces or line breaks";
  if (!key.startsWith("sk-ant-")) return 'Anthropic API keys start with "sk-ant-"';
  return undefined;
}

/**
 * What is wrong with `host` as a bind address, if anything.
 *
 * @param host a host name, IPv4 or IPv6 address
 * @returns the reason, or undefined
 */
export function hostProblem(host: string): string | undefined {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (/^\d+(\.\d+){3}$/.test(bare)) {
    return bare.split(".").every((n) => Number(n) <= 255) ? undefined : "not an IPv4 address";
  }
  if (bare.includes(":")) return /^[0-9a-f:.]+$/i.test(bare) ? undefined : "not an IPv6 address";
  const label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
  return new RegExp(`^${label}(?:\\.${label})*$`, "i").test(bare) && bare.length <= 253
    ? undefined
    : "not a host name or IP address";
}

/**
 * What is wrong with `token` as CACHE_AUTH_TOKEN, if anything.
 *
 * @param token the shared secret clients send in `x-cache-auth`
 * @returns the reason, or undefined
 */
export function authTokenProblem(token: string): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(token)) return "use letters, digits and punctuation only";
  if (token.length < 16) return "use at least 16 characters (e.g. $(openssl rand -hex 24))";
  return undefined;
}

/**
 * Shows enough of a key to recognise it: `sk-ant-api03-****`, or with `tail`
 * its last four characters, `sk-ant-…abcd`.
 *
 * @param key the API key
 * @param options `tail`: end with the last four characters
 * @returns the masked key
 */
export function maskKey(key: string, options: { tail?: boolean } = {}): string {
  const prefix = /^sk-ant-(?:[a-z]+\d*-)?/.exec(key)?.[0] ?? "";
  if (!options.tail) return `${prefix}****`;
  const tail = key.length - prefix.length >= 12 ? key.slice(-4) : "";
  return `${prefix.slice(0, 7)}…${tail}`;
}

/** How one variable is checked. */
interface VariableRule {
  readonly name: string;
  /** The variables its value is read from. */
  readonly uses: readonly string[];
  /** The value as shown and what it means; throws {@link ConfigError} when unusable. */
  readonly describe: (vars: Env, home: string) => Shown | Promise<Shown>;
  /** How to fix an unusable value, set in `where`. */
  readonly fix: (where: string) => string;
}

interface Shown {
  /** The value to show after `NAME=`; undefined shows the variable as unset. */
  readonly value: string | undefined;
  readonly note?: string;
}

const SETUP_HINT = 'or run "llm-cache-proxy setup"';

const VARIABLE_RULES: readonly VariableRule[] = [
  {
    name: "ANTHROPIC_API_KEY_REAL",
    uses: ["ANTHROPIC_API_KEY_REAL"],
    describe: (vars) => {
      const key = nonEmpty(vars.ANTHROPIC_API_KEY_REAL);
      if (key === undefined) {
        return { value: undefined, note: "clients' own credentials pass through" };
      }
      const problem = apiKeyProblem(key);
      if (problem) {
        throw new ConfigError(
          `ANTHROPIC_API_KEY_REAL=${maskKey(key)} is not an API key: ${problem}`,
        );
      }
      return { value: maskKey(key), note: "sent upstream in place of the clients' keys" };
    },
    fix: (where) =>
      `Set it to a key from https://console.anthropic.com/settings/keys in ${where} (or remove ` +
      `it to pass clients' credentials through), ${SETUP_HINT}`,
  },
  {
    name: "CACHE_PORT",
    uses: ["CACHE_PORT"],
    describe: (vars) => ({ value: String(portOf(vars)) }),
    fix: (where) => `Set CACHE_PORT to a free port such as 4000 in ${where}, ${SETUP_HINT}`,
  },
  {
    name: "CACHE_HOST",
    uses: ["CACHE_HOST"],
    describe: hostShown,
    fix: (where) => `Set CACHE_HOST=127.0.0.1 (this machine only) or 0.0.0.0 (all) in ${where}`,
  },
  {
    name: "CACHE_AUTH_TOKEN",
    uses: ["CACHE_AUTH_TOKEN", "CACHE_HOST"],
    describe: tokenShown,
    fix: (where) =>
      `Set CACHE_AUTH_TOKEN to the output of "openssl rand -hex 24" in ${where}, or bind ` +
      `CACHE_HOST=127.0.0.1 ("llm-cache-proxy setup --host <host>" makes a token)`,
  },
  {
    name: "CACHE_TTL_SEC",
    uses: ["CACHE_TTL_SEC"],
    describe: (vars) => {
      const ttl = ttlOf(vars);
      return { value: String(ttl), note: secondsInWords(ttl) };
    },
    fix: (where) => `Set CACHE_TTL_SEC to whole seconds, e.g. 604800 (7 days), in ${where}`,
  },
  {
    name: "CACHE_MAX_ENTRIES",
    uses: ["CACHE_MAX_ENTRIES"],
    describe: (vars) => ({ value: String(maxEntriesOf(vars)) }),
    fix: (where) => `Set CACHE_MAX_ENTRIES to a whole number such as 5000 in ${where}`,
  },
  {
    name: "CACHE_OFF",
    uses: ["CACHE_OFF"],
    describe: (vars) =>
      flag(vars, "CACHE_OFF")
        ? { value: "1", note: "cache off: every call goes upstream" }
        : { value: "0", note: "cache on" },
    fix: (where) => `Set CACHE_OFF to 1 or 0 in ${where}, or use "llm-cache-proxy on" / "off"`,
  },
  {
    name: "CACHE_LOG_LEVEL",
    uses: ["CACHE_LOG_LEVEL", "CACHE_QUIET"],
    describe: (vars) => {
      const level = logLevel(vars);
      return flag(vars, "CACHE_QUIET")
        ? { value: level, note: "CACHE_QUIET is set" }
        : { value: level };
    },
    fix: (where) => `Set CACHE_LOG_LEVEL to one of ${LOG_LEVELS.join("|")} in ${where}`,
  },
  {
    name: "CACHE_LOG_FILE",
    uses: ["CACHE_LOG_FILE"],
    describe: logFileShown,
    fix: (where) =>
      `Set CACHE_LOG_FILE to a path in a folder you can write, or to "none", in ${where}`,
  },
  {
    name: "CACHE_STORE",
    uses: ["CACHE_STORE"],
    describe: (vars) => {
      const url = storeUrlOf(vars);
      return url === undefined
        ? { value: undefined, note: "the embedded SQLite file, cache.db" }
        : { value: redactUrl(url), note: "shared Redis store" };
    },
    fix: (where) => `Set CACHE_STORE=redis://host:6379/0 in ${where}, or remove it for SQLite`,
  },
  {
    name: "CACHE_LOCK_SEC",
    uses: ["CACHE_LOCK_SEC"],
    describe: (vars) => ({
      value: String(lockOf(vars)),
      note: "how long a crashed instance's claim on a miss blocks the fleet",
    }),
    fix: (where) => `Set CACHE_LOCK_SEC to whole seconds from 1 to 600 in ${where}`,
  },
  {
    name: "CACHE_MODE",
    uses: ["CACHE_MODE"],
    describe: (vars) => {
      const mode = modeOf(vars);
      const notes = {
        normal: "hits replay, misses go upstream",
        replay: "never calls upstream: a miss is an error",
        record: "always upstream, always stored",
      };
      return { value: mode, note: notes[mode] };
    },
    fix: (where) => `Set CACHE_MODE to normal, replay or record in ${where}`,
  },
  {
    name: "CACHE_STALE_SEC",
    uses: ["CACHE_STALE_SEC"],
    describe: (vars) => {
      const stale = staleOf(vars);
      return {
        value: String(stale),
        note: stale === 0
          ? "stale-if-error off"
          : `${secondsInWords(stale)} past expiry when upstream fails`,
      };
    },
    fix: (where) => `Set CACHE_STALE_SEC to whole seconds, e.g. 86400 (a day), or 0, in ${where}`,
  },
  {
    name: "CACHE_LOG_FORMAT",
    uses: ["CACHE_LOG_FORMAT"],
    describe: (vars) => ({ value: logFormatOf(vars) }),
    fix: (where) => `Set CACHE_LOG_FORMAT to text or json in ${where}`,
  },
  {
    name: "CACHE_UPSTREAM",
    uses: ["CACHE_UPSTREAM"],
    describe: (vars) => ({ value: upstreamUrl(vars.CACHE_UPSTREAM) }),
    fix: (where) => `Set CACHE_UPSTREAM=https://api.anthropic.com in ${where}, or remove it`,
  },
];

async function checkVariable(
  rule: VariableRule,
  vars: Env,
  home: string,
  where: { envPath: string; fromEnv: Env },
): Promise<ConfigCheck> {
  const inEnv = rule.uses.some((name) => where.fromEnv[name] !== undefined);
  try {
    const shown = await rule.describe(vars, home);
    const unset = rule.uses.every((name) => nonEmpty(vars[name]) === undefined);
    const source = inEnv ? "from the environment" : unset && shown.value ? "default" : undefined;
    const notes = [shown.note, source]
      .filter((note) => note !== undefined);
    const head = shown.value === undefined ? `${rule.name} unset` : `${rule.name}=${shown.value}`;
    return {
      name: rule.name,
      ok: true,
      detail: notes.length ? `${head} (${notes.join("; ")})` : head,
    };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const place = inEnv ? "your environment (it wins over .env)" : where.envPath;
    return { name: rule.name, ok: false, detail: e.message, fix: rule.fix(place) };
  }
}

function hostShown(vars: Env): Shown {
  const host = nonEmpty(vars.CACHE_HOST) ?? DEFAULTS.host;
  const problem = hostProblem(host);
  if (problem) throw new ConfigError(`CACHE_HOST="${host}" is ${problem}`);
  return isLoopback(host)
    ? { value: host, note: "loopback: this machine only" }
    : { value: host, note: "reachable from the network; clients send x-cache-auth" };
}

function tokenShown(vars: Env): Shown {
  const { host, authToken } = hostAndToken(vars);
  if (authToken === undefined) return { value: undefined, note: "not needed on loopback" };
  const problem = isLoopback(host) ? undefined : authTokenProblem(authToken);
  if (problem) throw new ConfigError(`CACHE_AUTH_TOKEN is too weak for a network bind: ${problem}`);
  return { value: "****", note: `${authToken.length} characters; clients send it as x-cache-auth` };
}

async function logFileShown(vars: Env, home: string): Promise<Shown> {
  const path = logFile(vars.CACHE_LOG_FILE, home);
  if (path === undefined) return { value: "none", note: "console only" };
  const problem = await unwritable(path);
  if (problem) throw new ConfigError(`CACHE_LOG_FILE="${path}": ${problem}`);
  return { value: path, note: "writable" };
}

/** Why a file at `path` could not be appended to or created, without writing to it. */
async function unwritable(path: string): Promise<string | undefined> {
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

async function checkEnvFile(
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
      await modeCheck(path, `${count} variable${count === 1 ? "" : "s"}`),
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
    detail: `.env at ${path} is ${who} by other users (mode ${octal(mode)}) and holds your API key`,
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

async function checkPrices(path: string): Promise<{ check: ConfigCheck; rules: PriceRule[] }> {
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

async function checkNormalize(
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
      `suffix_turns and claude_code_billing, e.g. {"system_strip": ["Today's date[^\\\\n]*"]}`;
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
  return `${counts}; ${suffix}${billing}`;
}

function secondsInWords(seconds: number): string {
  const units: [number, string][] = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
  const [size, unit] = units.find(([size]) => seconds % size === 0)!;
  const n = seconds / size;
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
