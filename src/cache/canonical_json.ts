/**
 * Canonical JSON: one spelling per JSON value, so that key order and
 * insignificant whitespace never split the cache.
 *
 * Numbers keep the exact text they were written with. `JSON.parse` would turn
 * `12345678901234567891` and `12345678901234567892` into the same double, and
 * two requests that differ would share a key: a wrong hit. Keeping the source
 * text means `1` and `1.0` key apart, which only costs a miss.
 *
 * @module
 */

/** A parsed JSON value whose numbers remember their source text. */
type Canonical = string | boolean | null | RawNumber | Canonical[] | { [key: string]: Canonical };

class RawNumber {
  constructor(readonly source: string) {}
}

interface ReviverContext {
  readonly source?: string;
}

/**
 * Parses `text` as JSON and returns its canonical form, or `undefined` when it
 * is not JSON.
 *
 * @param text the JSON document
 * @param options `omitTopLevel`: top-level object fields to leave out
 * @returns the canonical spelling: sorted keys, no whitespace, numbers as written
 * @example
 * ```ts
 * canonicalJson('{ "b": 1, "a": [true] }'); // '{"a":[true],"b":1}'
 * ```
 */
export function canonicalJson(
  text: string,
  options: { omitTopLevel?: readonly string[] } = {},
): string | undefined {
  let value: Canonical;
  try {
    value = JSON.parse(text, keepNumberSource);
  } catch {
    return undefined;
  }
  if (isObject(value)) {
    for (const field of options.omitTopLevel ?? []) delete value[field];
  }
  return stringify(value);
}

function keepNumberSource(this: unknown, _key: string, value: unknown, context?: ReviverContext) {
  if (typeof value !== "number") return value;
  if (context?.source === undefined) throw new Error("JSON.parse source text access is required");
  return new RawNumber(context.source);
}

function isObject(value: Canonical): value is { [key: string]: Canonical } {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof RawNumber);
}

function stringify(value: Canonical): string {
  if (value instanceof RawNumber) return value.source;
  if (Array.isArray(value)) return `[${value.map(stringify).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stringify(value[k]!)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
