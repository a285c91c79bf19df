/**
 * The variables that say where the proxy listens and whom it calls:
 * `CACHE_HOST` with `CACHE_AUTH_TOKEN`, `CACHE_PORT`, `CACHE_UPSTREAM` and
 * `CACHE_STORE`, each parsed with a one-line error that says how to fix it.
 *
 * @module
 */
import { ConfigError, DEFAULTS, type Env, integer, LIMITS, nonEmpty } from "./config_vars.ts";

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
