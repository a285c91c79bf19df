/**
 * Hides secrets in text that leaves the process: log lines, and anything
 * else that could carry a key, a token or an auth header.
 *
 * @module
 */

/**
 * Hides secrets in `text`: each of `secrets` becomes `[redacted]`, and so do
 * Anthropic keys (`sk-ant-…[redacted]`), `Bearer` tokens and the values of
 * `x-api-key`, `x-cache-auth` and `authorization` headers.
 *
 * @param text a line, message or body excerpt
 * @param secrets exact values to hide; empty and `undefined` entries are skipped
 * @returns the text without them
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  const known = secrets.filter((s): s is string => s !== undefined && s !== "");
  // Most lines hold nothing to hide: one scan for a hint, and the regexes only then.
  if (!MAY_HOLD_SECRET.test(text) && !known.some((secret) => text.includes(secret))) return text;
  let out = text;
  for (const secret of known.sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(secret, "[redacted]");
    const escaped = JSON.stringify(secret).slice(1, -1); // as it appears inside a JSON line
    if (escaped !== secret) out = out.replaceAll(escaped, "[redacted]");
  }
  return out
    .replace(AUTH_HEADER, "$1$2$3[redacted]")
    .replace(BEARER, "$1[redacted]")
    .replace(ANTHROPIC_KEY, "sk-ant-…[redacted]");
}

/**
 * `x-api-key: v`, `"authorization":"Bearer v"`, `x-cache-auth=v`: name,
 * separator, scheme, then the value (not one already redacted).
 */
const AUTH_HEADER =
  /\b(x-api-key|x-cache-auth|(?:proxy-)?authorization)(\\?["']?\s*[:=]\s*\\?["']?\s*)((?:(?:bearer|basic)\s+)?)(?!(?:bearer|basic)\s)[^\s"'\\,;{}[\]]+/gi;
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const ANTHROPIC_KEY = /sk-ant-[A-Za-z0-9_-]{8,}/g;
/** Something each of the patterns above needs; JSON-escaped secrets still contain it. */
const MAY_HOLD_SECRET = /sk-ant-|bearer|x-api-key|x-cache-auth|authorization/i;
