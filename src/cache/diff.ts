/**
 * A field-level diff of two request bodies, for people (`explore --why`, the
 * dashboard's entry view): every field and message part that differs, a long
 * string shown around its first difference. The top-level `metadata` is
 * ignored, as the cache key ignores it.
 *
 * @module
 */
import {
  equal,
  IGNORED_FIELD,
  isObject,
  type Json,
  JsonNumber,
  parseBody,
  unionKeys,
} from "./_request_json.ts";

/** One difference between two request bodies. */
export interface DiffLine {
  /** Where, e.g. `max_tokens`, `system[2].text`, `messages[3].content[0].text`. */
  readonly path: string;
  /** `added`: only in the second body; `removed`: only in the first; `changed`: in both. */
  readonly kind: "added" | "removed" | "changed";
  /** The value in the first body as JSON text, shortened; undefined when added. */
  readonly before: string | undefined;
  /** The value in the second body as JSON text, shortened; undefined when removed. */
  readonly after: string | undefined;
}

/** Characters of a value a diff line shows. */
const VALUE_WIDTH = 120;

/** Unchanged characters shown before and after a change inside a long string. */
const CONTEXT = 40;

/** Characters of the changed part itself shown inside a long string. */
const CHANGE_WIDTH = 60;

/**
 * The differences between two request bodies, field by field, in the order
 * the fields appear (those of `a` first). A long string that changed is shown
 * around its first difference, so a changed date inside a long system prompt
 * is visible; a whole value added or removed is shown cut to its start.
 *
 * @param a the earlier body (what `removed` and `before` refer to)
 * @param b the later body (what `added` and `after` refer to)
 * @returns one line per difference; empty when equal or when either is not JSON
 */
export function requestDiff(a: Uint8Array, b: Uint8Array): DiffLine[] {
  const before = parseBody(a);
  const after = parseBody(b);
  if (before === undefined || after === undefined) return [];
  const lines: DiffLine[] = [];
  for (const field of unionKeys(before, after)) {
    if (field !== IGNORED_FIELD) walk(pathOf("", field), before[field], after[field], lines);
  }
  return lines;
}

function walk(path: string, a: Json | undefined, b: Json | undefined, out: DiffLine[]): void {
  if (a === undefined || b === undefined) {
    if (a !== undefined) out.push({ path, kind: "removed", before: shown(a), after: undefined });
    if (b !== undefined) out.push({ path, kind: "added", before: undefined, after: shown(b) });
  } else if (isObject(a) && isObject(b)) {
    for (const key of unionKeys(a, b)) walk(pathOf(path, key), a[key], b[key], out);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(`${path}[${i}]`, a[i], b[i], out);
  } else if (!equal(a, b)) {
    const [before, after] = typeof a === "string" && typeof b === "string"
      ? excerpts(a, b)
      : [shown(a), shown(b)];
    out.push({ path, kind: "changed", before, after });
  }
}

function pathOf(parent: string, key: string): string {
  const name = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : undefined;
  if (name === undefined) return `${parent}[${JSON.stringify(key)}]`;
  return parent === "" ? name : `${parent}.${name}`;
}

/** Both strings shown around their first difference when either is long. */
function excerpts(a: string, b: string): [string, string] {
  const x = Array.from(a);
  const y = Array.from(b);
  if (Math.max(x.length, y.length) <= VALUE_WIDTH) return [JSON.stringify(a), JSON.stringify(b)];
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let tail = 0;
  while (
    tail < x.length - start && tail < y.length - start &&
    x[x.length - 1 - tail] === y[y.length - 1 - tail]
  ) tail++;
  return [excerpt(x, start, x.length - tail), excerpt(y, start, y.length - tail)];
}

/** The characters `from` to `to` (the changed part) with some context, quoted. */
function excerpt(chars: readonly string[], from: number, to: number): string {
  const start = Math.max(0, from - CONTEXT);
  const end = to - from > CHANGE_WIDTH ? from + CHANGE_WIDTH : Math.min(chars.length, to + CONTEXT);
  return quoted(chars.slice(start, end).join(""), start > 0, end < chars.length);
}

function quoted(text: string, cutBefore: boolean, cutAfter: boolean): string {
  return `"${cutBefore ? "…" : ""}${JSON.stringify(text).slice(1, -1)}${cutAfter ? "…" : ""}"`;
}

/** A whole value as JSON text, cut to {@link VALUE_WIDTH} characters. */
function shown(value: Json): string {
  if (typeof value === "string") {
    const chars = Array.from(value);
    const cut = chars.length > VALUE_WIDTH;
    return quoted(cut ? chars.slice(0, VALUE_WIDTH).join("") : value, false, cut);
  }
  const chars = Array.from(jsonText(value));
  return chars.length > VALUE_WIDTH
    ? `${chars.slice(0, VALUE_WIDTH - 1).join("")}…`
    : chars.join("");
}

function jsonText(value: Json): string {
  if (value instanceof JsonNumber) return value.source;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
  if (isObject(value)) {
    const fields = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(value);
}
