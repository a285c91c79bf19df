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

/**
 * A whole-number variable within `[min, max]`, or its default when unset.
 *
 * @param vars the variables
 * @param name the variable
 * @param fallback its default
 * @param range the allowed range
 * @param what what it must be, for the error
 * @returns the number
 * @throws {ConfigError} naming the variable and the value
 */
export function integer(
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

/**
 * `CACHE_LOG_FILE`: a path, or the default in the cache home. `none` turns the
 * file off, and so does a switch's off word (`off`, `false`, `no`, `0`):
 * someone who writes one means no file, not a file named `off`.
 */
export function logFile(value: string | undefined, home: string): string | undefined {
  const raw = nonEmpty(value);
  if (raw === undefined) return `${home}/proxy.log`;
  const word = raw.toLowerCase();
  return word === "none" || FALSE_WORDS.includes(word) ? undefined : raw;
}
