/**
 * Each configuration variable's parser: its default, its allowed range, and
 * the one-line error that names it and says how to fix it. `config.ts` (the
 * one reader of the environment and the files) and `validate`'s checks call
 * the parsers; every room may use the types and `ConfigError`.
 *
 * @module
 */

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
/** Largest request body accepted, in bytes (32 MiB). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Variables read from the environment and the `.env` file. */
export type Env = Readonly<Record<string, string | undefined>>;

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
