/**
 * What the configuration checks share: the shape of one check, the variables
 * the proxy knows, and what makes a key, host or token unusable. Private to
 * `config_check.ts`, which re-exports it, and its two helpers; `setup` asks
 * the same questions of its answers.
 *
 * @module
 */

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
  "CACHE_REDIS_CA",
  "CACHE_REDIS_CERT",
  "CACHE_REDIS_KEY",
  "CACHE_LOCK_SEC",
  "CACHE_MAX_ANSWER_BYTES",
  "CACHE_UPSTREAM_TIMEOUT_SEC",
  "CACHE_STALE_SEC",
  "CACHE_HEADER_TIMEOUT_SEC",
  "CACHE_IDLE_TIMEOUT_SEC",
  "CACHE_MAX_CONNECTIONS",
  "CACHE_QUIET",
  "CACHE_LOG_LEVEL",
  "CACHE_LOG_FILE",
  "CACHE_LOG_FORMAT",
  "CACHE_UPSTREAM",
];

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
