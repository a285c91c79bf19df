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
import {
  type CacheMode,
  ConfigError,
  definedOnly,
  type Env,
  flag,
  headerTimeoutOf,
  idleTimeoutOf,
  lockOf,
  logFile,
  type LogFormat,
  logFormatOf,
  type LogLevel,
  logLevel,
  MAX_BODY_BYTES,
  maxAnswerBytesOf,
  maxConnectionsOf,
  maxEntriesOf,
  modeOf,
  nonEmpty,
  staleOf,
  ttlOf,
  upstreamTimeoutOf,
} from "./config_vars.ts";
import { hostAndToken, portOf, storeUrlOf, upstreamUrl } from "./config_addresses.ts";

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
  /** Log file (`CACHE_LOG_FILE`; `none` or `off` turns it off). @default "$CACHE_HOME/proxy.log" */
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
