/**
 * The one place that reads configuration: the process environment, then
 * `$CACHE_HOME/.env` for whatever the environment leaves unset, then defaults.
 * Everything else in the proxy receives the typed {@link Config} it returns;
 * `validate` gets one check per variable and file from `config_check.ts`
 * instead, so that it can report every problem at once.
 *
 * Names follow llm-cache-proxy v2 so that its users can switch without edits.
 *
 * @module
 */
import { parse as parseDotenv } from "dotenv";
import { parsePrices, type PriceRule } from "./values/prices.ts";
import { NO_RULES, type NormalizeRules, parseNormalizeRules } from "./values/normalize_rules.ts";
import { readRedisTls, type RedisTls } from "./_config_tls.ts";

/** How much the proxy writes to its log. */
export type LogLevel = "silent" | "error" | "info" | "debug";

/** How log lines are written: readable text, or one JSON object per line. */
export type LogFormat = "text" | "json";

/**
 * How the cache treats calls: `normal` (hit, else upstream), `replay` (never
 * upstream: a miss is an error, for hermetic CI) or `record` (always upstream,
 * always store).
 */
export type CacheMode = "normal" | "replay" | "record";

/** Every {@link CacheMode}. */
export const CACHE_MODES: readonly CacheMode[] = ["normal", "replay", "record"];

/** The validated configuration of one proxy process. */
export interface Config {
  /** Key sent upstream as `x-api-key`; `undefined` passes client credentials through. */
  readonly apiKey: string | undefined;
  /** Port to listen on; 0 picks a free one. @default 4000 */
  readonly port: number;
  /** Address to bind. @default "127.0.0.1" */
  readonly host: string;
  /** Shared secret required in `x-cache-auth` on every route but `/health`. */
  readonly authToken: string | undefined;
  /** Seconds a stored response stays fresh. @default 604800 (7 days) */
  readonly ttlSec: number;
  /** Entries kept before the least recently hit are evicted. @default 5000 */
  readonly maxEntries: number;
  /** Bypass the cache for every request (`CACHE_OFF=1`). @default false */
  readonly off: boolean;
  /** `CACHE_MODE`; a request's `x-cache-mode` overrides it. @default "normal" */
  readonly mode: CacheMode;
  /** How long after expiry an entry may still be served when upstream fails; 0: never. @default 86400 */
  readonly staleSec: number;
  /** @default "info" */
  readonly logLevel: LogLevel;
  /** Base URL of the Anthropic API, without a trailing slash. @default "https://api.anthropic.com" */
  readonly upstream: string;
  /** Folder holding `.env`, `cache.db` and logs. @default "~/.llm-cache-proxy" */
  readonly home: string;
  /** Path of the SQLite store: `$CACHE_HOME/cache.db`. */
  readonly dbPath: string;
  /**
   * `CACHE_STORE`: a `redis://` or `rediss://` URL selects a Redis store shared by
   * every proxy that names it; undefined keeps the embedded SQLite file.
   */
  readonly storeUrl: string | undefined;
  /**
   * `CACHE_REDIS_CA`, `CACHE_REDIS_CERT`, `CACHE_REDIS_KEY`: the PEM files (read
   * here) a `rediss://` store is reached with: a private CA, a client
   * certificate and its key. Undefined when none is set.
   */
  readonly redisTls: RedisTls | undefined;
  /**
   * `CACHE_LOCK_SEC`: with a shared store, how long one instance's claim on a
   * miss lives unless renewed; a crashed instance blocks the others this long. @default 10
   */
  readonly lockSec: number;
  /**
   * `CACHE_HEADER_TIMEOUT_SEC`: a client connection that has not sent a whole
   * request head this long after connecting is closed; 0: never. @default 30
   */
  readonly headerTimeoutSec: number;
  /**
   * `CACHE_IDLE_TIMEOUT_SEC`: a client connection with no request in flight
   * (a streaming answer is in flight) for this long is closed; 0: never. @default 75
   */
  readonly idleTimeoutSec: number;
  /**
   * `CACHE_MAX_CONNECTIONS`: client connections open at once; past it a new
   * one is closed on arrival; 0: no cap. @default 512
   */
  readonly maxConnections: number;
  /** Largest request body accepted, in bytes. @default 33554432 (32 MiB) */
  readonly maxBodyBytes: number;
  /**
   * `CACHE_MAX_ANSWER_BYTES`: the largest answer recorded. A longer one is
   * still relayed whole to its client, but neither kept in memory nor stored.
   * @default 33554432 (32 MiB)
   */
  readonly maxAnswerBytes: number;
  /**
   * `CACHE_UPSTREAM_TIMEOUT_SEC`, in ms: how long upstream may send nothing,
   * before the response head or between two body chunks, before the call is
   * closed and its clients get a `timeout_error`. @default 600000 (600 s, as the SDKs wait)
   */
  readonly upstreamTimeoutMs: number;
  /** Log file (`CACHE_LOG_FILE`; `none` turns it off). @default "$CACHE_HOME/proxy.log" */
  readonly logFile: string | undefined;
  /** @default "text" */
  readonly logFormat: LogFormat;
  /** Price rules from `$CACHE_HOME/prices.json`, tried before the built-in table. */
  readonly prices: readonly PriceRule[];
  /** Rules from `$CACHE_HOME/normalize.json`; without it, exact keys only. @default NO_RULES */
  readonly normalize: NormalizeRules;
  /** The user's home folder (`HOME`, or `USERPROFILE` on Windows), if set. */
  readonly userHome: string | undefined;
  /** Where per-user service files go: `$XDG_CONFIG_HOME`, else `~/.config`. */
  readonly configHome: string | undefined;
}

/** A configuration value that cannot be used; the message says which and how to fix it. */
export class ConfigError extends Error {
  /** @param message one line naming the variable, the value and what is allowed */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The defaults `setup` offers and an unset variable gets. */
export const DEFAULTS = {
  port: 4000,
  host: "127.0.0.1",
  ttlSec: 604800,
  maxEntries: 5000,
  mode: "normal" as CacheMode,
  staleSec: 86400,
  lockSec: 10,
  maxAnswerBytes: 32 * 1024 * 1024,
  upstreamTimeoutSec: 600,
  // hyper's own header_read_timeout default, and what Apache waits for a head.
  headerTimeoutSec: 30,
  // nginx's keepalive_timeout: well past the 4-5 s after which SDK clients drop
  // their pooled idle connections, so the server rarely closes one a client reuses.
  idleTimeoutSec: 75,
  // Half the usual open-files limit (1024): the other half is left for the
  // upstream connection each concurrent miss holds, the store and the log.
  maxConnections: 512,
} as const;

/** The allowed range `[min, max]` of each whole-number setting. */
export const LIMITS = {
  port: [0, 65535],
  ttlSec: [1, 10 * 365 * 86400],
  maxEntries: [1, 1e9],
  staleSec: [0, 10 * 365 * 86400],
  lockSec: [1, 600],
  maxAnswerBytes: [1, 2 ** 40],
  upstreamTimeoutSec: [0.001, 86400],
  headerTimeoutSec: [0, 3600],
  idleTimeoutSec: [0, 86400],
  maxConnections: [0, 1_000_000],
} as const;

/** The log levels, quietest first. */
export const LOG_LEVELS: readonly LogLevel[] = ["silent", "error", "info", "debug"];
const TRUE_WORDS = ["1", "true", "yes", "on"];
const FALSE_WORDS = ["", "0", "false", "no", "off"];
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Variables read from the environment and the `.env` file. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Builds the configuration from `env` and `$CACHE_HOME/.env`.
 *
 * @param env the process environment, e.g. `Deno.env.toObject()`
 * @returns the validated configuration
 * @throws {ConfigError} when a value is unusable
 * @example
 * ```ts
 * const config = await loadConfig(Deno.env.toObject());
 * ```
 */
export async function loadConfig(env: Env): Promise<Config> {
  const home = cacheHome(env);
  const merged: Env = { ...(await readEnvFile(`${home}/.env`)), ...definedOnly(env) };
  return buildConfig(merged, home, {
    prices: await readPrices(`${home}/prices.json`),
    normalize: await readNormalize(`${home}/normalize.json`),
    redisTls: await readRedisTls(merged),
  });
}

/**
 * Validates already-merged variables; the pure half of {@link loadConfig}.
 *
 * @param vars the merged variables
 * @param home the cache home folder
 * @param files what the configuration files held: `prices`, `normalize`, `redisTls`
 * @returns the validated configuration
 * @throws {ConfigError} when a value is unusable
 */
export function buildConfig(
  vars: Env,
  home: string,
  files: {
    prices?: readonly PriceRule[];
    normalize?: NormalizeRules;
    redisTls?: RedisTls | undefined;
  } = {},
): Config {
  const { host, authToken } = hostAndToken(vars);
  const userHome = userHomeOf(vars);
  return {
    apiKey: nonEmpty(vars.ANTHROPIC_API_KEY_REAL),
    port: portOf(vars),
    host,
    authToken,
    ttlSec: ttlOf(vars),
    maxEntries: maxEntriesOf(vars),
    off: flag(vars, "CACHE_OFF"),
    mode: modeOf(vars),
    staleSec: staleOf(vars),
    logLevel: logLevel(vars),
    upstream: upstreamUrl(vars.CACHE_UPSTREAM),
    home,
    dbPath: `${home}/cache.db`,
    storeUrl: storeUrlOf(vars),
    redisTls: files.redisTls,
    lockSec: lockOf(vars),
    headerTimeoutSec: headerTimeoutOf(vars),
    idleTimeoutSec: idleTimeoutOf(vars),
    maxConnections: maxConnectionsOf(vars),
    maxBodyBytes: MAX_BODY_BYTES,
    maxAnswerBytes: maxAnswerBytesOf(vars),
    upstreamTimeoutMs: upstreamTimeoutOf(vars) * 1000,
    logFile: logFile(vars.CACHE_LOG_FILE, home),
    logFormat: logFormatOf(vars),
    prices: files.prices ?? [],
    normalize: files.normalize ?? NO_RULES,
    userHome,
    configHome: nonEmpty(vars.XDG_CONFIG_HOME) ??
      (userHome === undefined ? undefined : `${userHome}/.config`),
  };
}

/**
 * Tells whether `host` names this machine only (127.0.0.0/8, ::1 or localhost).
 *
 * @param host a host name or IP address, IPv6 with or without brackets
 * @returns true for a loopback address
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Where the `.env` file of `env`'s cache home is.
 *
 * @param env the process environment
 * @returns `$CACHE_HOME/.env`
 * @throws {ConfigError} when neither CACHE_HOME nor HOME is set
 */
export function envFilePath(env: Env): string {
  return `${cacheHome(env)}/.env`;
}

/**
 * The variables a `.env` file sets, without the environment or defaults.
 *
 * @param path the `.env` file
 * @returns its variables; none when the file does not exist
 * @throws {ConfigError} when it exists but cannot be read
 */
export async function readEnvFile(path: string): Promise<Record<string, string>> {
  try {
    return parseDotenv(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw new ConfigError(`Cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The cache home folder: `CACHE_HOME`, else `~/.llm-cache-proxy`. */
export function cacheHome(env: Env): string {
  const explicit = nonEmpty(env.CACHE_HOME);
  if (explicit) return explicit.replace(/\/+$/, "");
  const userHome = userHomeOf(env);
  if (!userHome) {
    throw new ConfigError("Cannot find a home folder: HOME is unset. Set CACHE_HOME to a folder");
  }
  return `${userHome}/.llm-cache-proxy`;
}

function userHomeOf(env: Env): string | undefined {
  return nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE);
}

/** The variables that have a value. */
export function definedOnly(env: Env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined),
  );
}

/** The trimmed value, or undefined when it is empty. */
export function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/** `CACHE_HOST` and `CACHE_AUTH_TOKEN`, refusing a non-loopback host without a token. */
export function hostAndToken(vars: Env): { host: string; authToken: string | undefined } {
  const host = nonEmpty(vars.CACHE_HOST) ?? DEFAULTS.host;
  const authToken = nonEmpty(vars.CACHE_AUTH_TOKEN);
  if (!isLoopback(host) && authToken === undefined) {
    throw new ConfigError(
      `CACHE_HOST="${host}" is not a loopback address and CACHE_AUTH_TOKEN is unset: anyone who ` +
        `reaches the proxy would spend your API key. Set CACHE_AUTH_TOKEN (e.g. ` +
        `"$(openssl rand -hex 24)") or bind CACHE_HOST=127.0.0.1`,
    );
  }
  return { host, authToken };
}

/** `CACHE_PORT`. */
export function portOf(vars: Env): number {
  return integer(vars, "CACHE_PORT", DEFAULTS.port, LIMITS.port, "a port number (0-65535)");
}

/** `CACHE_TTL_SEC`. */
export function ttlOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_TTL_SEC",
    DEFAULTS.ttlSec,
    LIMITS.ttlSec,
    "whole seconds, at least 1",
  );
}

/** `CACHE_MAX_ENTRIES`. */
export function maxEntriesOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_MAX_ENTRIES",
    DEFAULTS.maxEntries,
    LIMITS.maxEntries,
    "a whole number, at least 1",
  );
}

/** `CACHE_STORE`: a Redis URL, or undefined for the embedded SQLite store. */
export function storeUrlOf(vars: Env): string | undefined {
  const raw = nonEmpty(vars.CACHE_STORE);
  if (raw === undefined || raw.toLowerCase() === "sqlite") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "redis:" && url.protocol !== "rediss:") || !url.hostname) {
    throw new ConfigError(
      `CACHE_STORE="${
        redactUrl(raw)
      }" is not a Redis URL: use redis://[user:pass@]host:port[/db], ` +
        "rediss:// for TLS, or leave it unset for the embedded SQLite file",
    );
  }
  if (!/^\/?(\d+)?$/.test(url.pathname)) {
    throw new ConfigError(
      `CACHE_STORE="${redactUrl(raw)}": the database must be a number, e.g. /0`,
    );
  }
  return raw;
}

/**
 * A URL with its password replaced by `****`, for messages and logs.
 *
 * @param raw a URL, or any text
 * @returns the text without the password
 */
export function redactUrl(raw: string): string {
  return raw.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, "$1****@");
}

/** `CACHE_LOCK_SEC`. */
export function lockOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_LOCK_SEC",
    DEFAULTS.lockSec,
    LIMITS.lockSec,
    "whole seconds, 1 to 600",
  );
}

/** `CACHE_MAX_ANSWER_BYTES`. */
export function maxAnswerBytesOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_MAX_ANSWER_BYTES",
    DEFAULTS.maxAnswerBytes,
    LIMITS.maxAnswerBytes,
    "a whole number of bytes, at least 1",
  );
}

/** `CACHE_UPSTREAM_TIMEOUT_SEC`, in seconds; a fraction such as `0.5` is allowed. */
export function upstreamTimeoutOf(vars: Env): number {
  const name = "CACHE_UPSTREAM_TIMEOUT_SEC";
  const raw = nonEmpty(vars[name]);
  if (raw === undefined) return DEFAULTS.upstreamTimeoutSec;
  const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  const [min, max] = LIMITS.upstreamTimeoutSec;
  if (!(n >= min && n <= max)) {
    throw new ConfigError(`${name}="${raw}" is not seconds from ${min} to ${max}, e.g. 600`);
  }
  return n;
}

/** `CACHE_HEADER_TIMEOUT_SEC`. */
export function headerTimeoutOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_HEADER_TIMEOUT_SEC",
    DEFAULTS.headerTimeoutSec,
    LIMITS.headerTimeoutSec,
    "whole seconds, 0 to 3600 (0 turns it off)",
  );
}

/** `CACHE_IDLE_TIMEOUT_SEC`. */
export function idleTimeoutOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_IDLE_TIMEOUT_SEC",
    DEFAULTS.idleTimeoutSec,
    LIMITS.idleTimeoutSec,
    "whole seconds, 0 to 86400 (0 turns it off)",
  );
}

/** `CACHE_MAX_CONNECTIONS`. */
export function maxConnectionsOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_MAX_CONNECTIONS",
    DEFAULTS.maxConnections,
    LIMITS.maxConnections,
    "a whole number of connections (0: no cap)",
  );
}

/** `CACHE_MODE`. */
export function modeOf(vars: Env): CacheMode {
  return oneOf(vars, "CACHE_MODE", CACHE_MODES, DEFAULTS.mode);
}

/** `CACHE_STALE_SEC`. */
export function staleOf(vars: Env): number {
  return integer(
    vars,
    "CACHE_STALE_SEC",
    DEFAULTS.staleSec,
    LIMITS.staleSec,
    "whole seconds (0 turns stale-if-error off)",
  );
}

/** `CACHE_LOG_FORMAT`. */
export function logFormatOf(vars: Env): LogFormat {
  return oneOf(vars, "CACHE_LOG_FORMAT", ["text", "json"], "text");
}

function integer(
  vars: Env,
  name: string,
  fallback: number,
  [min, max]: readonly [number, number],
  allowed: string,
): number {
  const raw = nonEmpty(vars[name]);
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    throw new ConfigError(`${name}="${raw}" is not ${allowed}`);
  }
  return n;
}

/** A switch variable (1/0, true/false, yes/no, on/off). */
export function flag(vars: Env, name: string): boolean {
  const raw = (vars[name] ?? "").trim().toLowerCase();
  if (TRUE_WORDS.includes(raw)) return true;
  if (FALSE_WORDS.includes(raw)) return false;
  throw new ConfigError(
    `${name}="${vars[name]}" is not a switch (1/0, true/false, yes/no, on/off)`,
  );
}

/** `CACHE_LOG_LEVEL` (`CACHE_QUIET=1` means silent). */
export function logLevel(vars: Env): LogLevel {
  if (flag(vars, "CACHE_QUIET")) return "silent";
  return oneOf(vars, "CACHE_LOG_LEVEL", LOG_LEVELS, "info");
}

function oneOf<T extends string>(vars: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = nonEmpty(vars[name])?.toLowerCase() ?? fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name}="${vars[name]}" is not one of ${allowed.join("|")}`);
}

/** `CACHE_LOG_FILE`: a path, `none`, or the default in the cache home. */
export function logFile(value: string | undefined, home: string): string | undefined {
  const raw = nonEmpty(value);
  if (raw === undefined) return `${home}/proxy.log`;
  return raw.toLowerCase() === "none" ? undefined : raw;
}

/** The rules of a `prices.json`; none when it does not exist. */
export async function readPrices(path: string): Promise<PriceRule[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw new ConfigError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return parsePrices(JSON.parse(text));
  } catch (e) {
    throw new ConfigError(`${path} is not valid: ${(e as Error).message}`);
  }
}

/**
 * The rules of a `normalize.json`; the defaults when it does not exist.
 *
 * @param path the file, `$CACHE_HOME/normalize.json`
 * @returns the validated rules
 * @throws {ConfigError} naming the file and what is wrong in it (e.g. the bad pattern)
 */
export async function readNormalize(path: string): Promise<NormalizeRules> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return NO_RULES;
    throw new ConfigError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return parseNormalizeRules(json);
  } catch (e) {
    throw new ConfigError(`${path} is not valid: ${(e as Error).message}`);
  }
}

/** `CACHE_UPSTREAM`, without a trailing slash. */
export function upstreamUrl(value: string | undefined): string {
  const raw = nonEmpty(value) ?? "https://api.anthropic.com";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`CACHE_UPSTREAM="${raw}" is not a URL (e.g. https://api.anthropic.com)`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new ConfigError(
      `CACHE_UPSTREAM="${raw}" must be an http(s) URL without query or fragment (e.g. https://api.anthropic.com)`,
    );
  }
  if (BAD_PORTS.has(Number(url.port))) {
    throw new ConfigError(
      `CACHE_UPSTREAM="${raw}" names port ${url.port}, to which fetch refuses to connect ` +
        '(a "bad port" of the Fetch standard): run the upstream on another port',
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/**
 * The ports fetch never connects to: the Fetch standard's "bad port" list
 * (https://fetch.spec.whatwg.org/#port-blocking), which Deno enforces.
 */
const BAD_PORTS = new Set([
  1,
  7,
  9,
  11,
  13,
  15,
  17,
  19,
  20,
  21,
  22,
  23,
  25,
  37,
  42,
  43,
  53,
  69,
  77,
  79,
  87,
  95,
  101,
  102,
  103,
  104,
  109,
  110,
  111,
  113,
  115,
  117,
  119,
  123,
  135,
  137,
  139,
  143,
  161,
  179,
  389,
  427,
  465,
  512,
  513,
  514,
  515,
  526,
  530,
  531,
  532,
  540,
  548,
  554,
  556,
  563,
  587,
  601,
  636,
  989,
  990,
  993,
  995,
  1719,
  1720,
  1723,
  2049,
  3659,
  4045,
  4190,
  5060,
  5061,
  6000,
  6566,
  6665,
  6666,
  6667,
  6668,
  6669,
  6679,
  6697,
  10080,
]);
