/**
 * The per-variable rules of `validate` (private to `config_check.ts`): how
 * each variable's value is shown, why it cannot be used, and how to fix it.
 *
 * @module
 */
import {
  ConfigError,
  DEFAULTS,
  type Env,
  flag,
  headerTimeoutOf,
  idleTimeoutOf,
  lockOf,
  LOG_LEVELS,
  logFile,
  logFormatOf,
  logLevel,
  maxAnswerBytesOf,
  maxConnectionsOf,
  maxEntriesOf,
  modeOf,
  nonEmpty,
  staleOf,
  ttlOf,
  upstreamTimeoutOf,
} from "./config_vars.ts";
import {
  hostAndToken,
  isLoopback,
  portOf,
  redactUrl,
  storeUrlOf,
  upstreamUrl,
} from "./config_addresses.ts";
import {
  apiKeyProblem,
  authTokenProblem,
  type ConfigCheck,
  hostProblem,
  maskKey,
} from "./_config_values.ts";
import { unwritable } from "./_config_files.ts";
import { readTlsFile, type RedisTls, TLS_VARIABLES } from "./_config_tls.ts";

/** How one variable is checked. */
export interface VariableRule {
  readonly name: string;
  /** The variables its value is read from. */
  readonly uses: readonly string[];
  /** The value as shown and what it means; throws {@link ConfigError} when unusable. */
  readonly describe: (vars: Env, home: string) => Shown | Promise<Shown>;
  /** How to fix an unusable value, set in `where`. */
  readonly fix: (where: string) => string;
}

/** A usable value as `validate` shows it. */
export interface Shown {
  /** The value to show after `NAME=`; undefined shows the variable as unset. */
  readonly value: string | undefined;
  /** What the value means, shown in brackets after it. */
  readonly note?: string;
}

const SETUP_HINT = 'or run "llm-cache-proxy setup"';

/** One rule per variable, in the order `validate` shows them. */
export const VARIABLE_RULES: readonly VariableRule[] = [
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
  ...(Object.keys(TLS_VARIABLES) as (keyof RedisTls)[]).map((field): VariableRule => ({
    name: TLS_VARIABLES[field],
    uses: [TLS_VARIABLES[field]],
    describe: async (vars) => {
      const path = nonEmpty(vars[TLS_VARIABLES[field]]);
      if (await readTlsFile(vars, field) === undefined) {
        return { value: undefined, note: TLS_UNSET[field] };
      }
      return { value: path, note: TLS_NOTES[field] };
    },
    fix: (where) =>
      `Set ${TLS_VARIABLES[field]} to a readable PEM file (or remove it) in ${where}; ` +
      "it applies to CACHE_STORE=rediss://… only",
  })),
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
    name: "CACHE_MAX_ANSWER_BYTES",
    uses: ["CACHE_MAX_ANSWER_BYTES"],
    describe: (vars) => ({
      value: String(maxAnswerBytesOf(vars)),
      note: "longer answers are relayed but not stored",
    }),
    fix: (where) => `Set CACHE_MAX_ANSWER_BYTES to a number of bytes, e.g. 33554432, in ${where}`,
  },
  {
    name: "CACHE_UPSTREAM_TIMEOUT_SEC",
    uses: ["CACHE_UPSTREAM_TIMEOUT_SEC"],
    describe: (vars) => ({
      value: String(upstreamTimeoutOf(vars)),
      note: "how long upstream may send nothing before the call is closed",
    }),
    fix: (where) => `Set CACHE_UPSTREAM_TIMEOUT_SEC to seconds, e.g. 600, in ${where}`,
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
  connectionLimit("CACHE_HEADER_TIMEOUT_SEC", headerTimeoutOf, {
    on: "seconds for a client to send a request head",
    example: "whole seconds, e.g. 30",
  }),
  connectionLimit("CACHE_IDLE_TIMEOUT_SEC", idleTimeoutOf, {
    on: "seconds before an idle connection is closed",
    example: "whole seconds, e.g. 75",
  }),
  connectionLimit("CACHE_MAX_CONNECTIONS", maxConnectionsOf, {
    on: "client connections at once",
    example: "a whole number such as 512",
  }),
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

/**
 * Checks one variable by its rule, saying where a value came from and where to fix it.
 *
 * @param rule how the variable is checked
 * @param vars `.env` values overlaid by the environment
 * @param home the cache home folder
 * @param where `.env`'s path, and the variables set in the environment (they win over `.env`)
 * @returns the check as `validate` shows it
 */
export async function checkVariable(
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

const TLS_UNSET = {
  ca: "the system's trusted CAs check a rediss:// server",
  cert: "no client certificate",
  key: "no client certificate",
};

const TLS_NOTES = {
  ca: "the CA that a rediss:// server's certificate must chain to",
  cert: "client certificate, for tls-auth-clients",
  key: "the client certificate's private key",
};

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

function secondsInWords(seconds: number): string {
  const units: [number, string][] = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
  const [size, unit] = units.find(([size]) => seconds % size === 0)!;
  const n = seconds / size;
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** The rule of a client connection limit, where 0 turns it off. */
function connectionLimit(
  name: string,
  read: (vars: Env) => number,
  words: { on: string; example: string },
): VariableRule {
  return {
    name,
    uses: [name],
    describe: (vars) => {
      const value = read(vars);
      return { value: String(value), note: value === 0 ? "off" : words.on };
    },
    fix: (where) => `Set ${name} to ${words.example}, or 0 (off), in ${where}`,
  };
}
