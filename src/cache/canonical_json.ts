/**
 * Canonical JSON: one spelling per JSON value, so that key order and
 * insignificant whitespace never split the cache.
 *
 * Numbers keep the exact text they were written with. `JSON.parse` would turn
 * `12345678901234567891` and `12345678901234567892` into the same double, and
 * two requests that differ would share a key: a wrong hit. Keeping the source
 * text means `1` and `1.0` key apart, which only costs a miss.
 *
 * Keeping it costs a reviver call per value, which made parsing a 107 KB
 * Claude Code request three times slower (272 µs against 82). Most requests
 * only hold integers short enough that a double spells them back exactly, and
 * the scan that runs before every parse tells: such text is parsed without a
 * reviver, its numbers left as numbers.
 *
 * Some JSON has no canonical form here, and its caller keys the raw bytes:
 * - a duplicate member name (`{"a":1,"a":2}`): `JSON.parse` keeps the last
 *   value, another parser (the API's may) the first, so merging it with
 *   `{"a":2}` could be a wrong hit;
 * - arrays and objects nested deeper than {@link MAX_JSON_DEPTH}: parsing and
 *   walking such text costs about a second at a depth of a million, and no
 *   real request comes near it. A cheap scan finds both before any parse.
 *
 * The steps are exported on their own ({@link parseJsonTree}, then changes to
 * the tree, then {@link canonicalize}) so that the normalization tiers can
 * edit a parsed request without ever turning a number into a double.
 *
 * @module
 */

/**
 * The deepest nesting of arrays and objects that is parsed: well above any
 * real request (tool inputs and JSON schemas nest a few dozen levels at most),
 * and as deep as common JSON parsers allow by default (serde_json: 128).
 */
export const MAX_JSON_DEPTH = 128;

/**
 * A parsed JSON value whose numbers remember their source text: a
 * {@link JsonNumber}, or a plain number where `String(n)` is that text (an
 * integer of at most 15 digits, not `-0`).
 */
export type JsonTree = string | number | boolean | null | JsonNumber | JsonTree[] | JsonObject;

/** A parsed JSON object. */
export interface JsonObject {
  /** A member's value. */
  [key: string]: JsonTree;
}

/** A JSON number as it was written, e.g. `1.0` or `12345678901234567891`. */
export class JsonNumber {
  /**
   * Wraps a number's text.
   *
   * @param source the number's text in the document
   */
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
 * @param options `omitTopLevel`: top-level object fields to leave out;
 *   `transform`: a change to the parsed tree (it may edit it in place) made before serializing
 * @returns the canonical spelling: sorted keys, no whitespace, numbers as written;
 *   undefined also for JSON that {@link parseJsonTree} refuses
 * @example
 * ```ts
 * canonicalJson('{ "b": 1, "a": [true] }'); // '{"a":[true],"b":1}'
 * ```
 */
export function canonicalJson(
  text: string,
  options: { omitTopLevel?: readonly string[]; transform?: (tree: JsonTree) => JsonTree } = {},
): string | undefined {
  let tree = parseJsonTree(text);
  if (tree === undefined) return undefined;
  if (isJsonObject(tree)) {
    for (const field of options.omitTopLevel ?? []) delete tree[field];
  }
  if (options.transform) tree = options.transform(tree);
  return canonicalize(tree);
}

/**
 * Parses `text` as JSON, keeping every number's source text.
 *
 * @param text the JSON document
 * @returns the tree; undefined when `text` is not JSON, repeats a member name
 *   within an object, or nests deeper than {@link MAX_JSON_DEPTH}
 */
export function parseJsonTree(text: string): JsonTree | undefined {
  const scan = scanJson(text);
  if (scan === undefined) return undefined;
  return scan.plainNumbers
    ? parsePlain(text, scan.members)
    : parseKeepingNumbers(text, scan.members);
}

/** Text whose numbers all spell back as written: no reviver; members counted in the tree. */
function parsePlain(text: string, members: number): JsonTree | undefined {
  let tree: JsonTree;
  try {
    tree = JSON.parse(text);
  } catch {
    return undefined;
  }
  // A duplicate name leaves fewer members in the tree than the text spells.
  return membersIn(tree) === members ? tree : undefined;
}

function parseKeepingNumbers(text: string, members: number): JsonTree | undefined {
  // Each call of the reviver whose holder is an object is one member that
  // survived the parse, plus one for the root's wrapper: a duplicate name
  // leaves fewer survivors than the text has members.
  let survivors = -1;
  let tree: JsonTree;
  try {
    tree = JSON.parse(text, function (this: unknown, key, value, context?: ReviverContext) {
      if (!Array.isArray(this)) survivors++;
      return keepNumberSource(key, value, context);
    });
  } catch {
    return undefined;
  }
  return survivors === members ? tree : undefined;
}

/** Members of every object in `tree`, however deep (at most {@link MAX_JSON_DEPTH}). */
function membersIn(tree: JsonTree): number {
  if (typeof tree !== "object" || tree === null) return 0;
  let n = 0;
  if (Array.isArray(tree)) {
    for (const item of tree) n += membersIn(item);
    return n;
  }
  for (const key in tree) n += 1 + membersIn((tree as JsonObject)[key]!);
  return n;
}

/**
 * Tells, without parsing, whether `text` nests arrays and objects deeper than
 * {@link MAX_JSON_DEPTH}: such text is not worth parsing, and a recursive walk
 * of its tree could overflow the stack.
 *
 * @param text a JSON document, or any text
 * @returns true when it nests too deep
 */
export function nestsTooDeep(text: string): boolean {
  return scanJson(text) === undefined;
}

/**
 * The canonical spelling of a tree: keys sorted, no whitespace, numbers as written.
 *
 * @param tree a tree from {@link parseJsonTree}, possibly edited
 * @returns the canonical JSON text
 */
export function canonicalize(tree: JsonTree): string {
  // JSON.stringify writes a copy with sorted keys natively, 2.5 times faster than joining the
  // strings here (44 µs against 116 for a 107 KB request). It writes an object's keys in
  // their order, except that it lists index-like keys ("10", "9") first, by number.
  const sorted = sortedCopy(tree);
  return sorted === UNORDERABLE ? spelled(tree) : JSON.stringify(sorted);
}

const UNORDERABLE = Symbol("a key that starts with a digit");
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** `tree` with each object's keys in sorted order and numbers as raw JSON text; or UNORDERABLE. */
function sortedCopy(tree: JsonTree): unknown {
  if (typeof tree !== "object" || tree === null) return tree;
  if (tree instanceof JsonNumber) return rawJson(tree.source);
  if (Array.isArray(tree)) {
    const items: unknown[] = [];
    for (const item of tree) {
      const copy = sortedCopy(item);
      if (copy === UNORDERABLE) return UNORDERABLE;
      items.push(copy);
    }
    return items;
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(tree).sort()) {
    const first = key.charCodeAt(0);
    if (first >= ZERO && first <= NINE) return UNORDERABLE;
    const value = sortedCopy(tree[key]!);
    if (value === UNORDERABLE) return UNORDERABLE;
    copy[key] = value; // Deno has no `__proto__` setter: that name is a key like any other
  }
  return copy;
}

/** The canonical spelling, built up here: for the trees that {@link sortedCopy} cannot order. */
function spelled(tree: JsonTree): string {
  if (tree instanceof JsonNumber) return tree.source;
  if (Array.isArray(tree)) return `[${tree.map(spelled).join(",")}]`;
  if (isJsonObject(tree)) {
    const keys = Object.keys(tree).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${spelled(tree[k]!)}`).join(",")}}`;
  }
  return JSON.stringify(tree);
}

/**
 * Tells whether a tree node is a JSON object (not an array, number or null).
 *
 * @param value a tree node, or undefined
 * @returns true for an object
 */
export function isJsonObject(value: JsonTree | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof JsonNumber);
}

function keepNumberSource(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value !== "number") return value;
  if (context?.source === undefined) throw new Error("JSON.parse source text access is required");
  return new JsonNumber(context.source);
}

const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const DOT = 0x2e;
const PLUS = 0x2b;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const UPPER_E = 0x45;
const LOWER_E = 0x65;
/** Digits a double holds exactly whatever they are (2^53 has 16). */
const EXACT_DIGITS = 15;

/** What one pass over a document's text tells before it is parsed. */
interface Scan {
  /** Object members it spells. */
  readonly members: number;
  /** Whether every number is an integer of at most {@link EXACT_DIGITS} digits and not `-0`. */
  readonly plainNumbers: boolean;
}

/**
 * One pass over `text` between strings (strings are skipped with `indexOf`):
 * undefined as soon as its nesting passes {@link MAX_JSON_DEPTH}. In valid
 * JSON each `:` there ends one member's name, a `.`, `E` or `+` belongs to a
 * number, and so does an `e` after a digit (the others are in `true` and
 * `false`). What it says of text that is not JSON does not matter: that text
 * never parses.
 */
function scanJson(text: string): Scan | undefined {
  let members = 0;
  let depth = 0;
  let plainNumbers = true;
  for (let at = 0; at < text.length;) {
    const quote = text.indexOf('"', at);
    const end = quote === -1 ? text.length : quote;
    let digits = 0;
    for (let i = at; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c >= ZERO && c <= NINE) {
        if (++digits > EXACT_DIGITS) plainNumbers = false;
        continue;
      }
      if (c === COLON) members++;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++depth > MAX_JSON_DEPTH) return undefined;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
      else if (
        c === DOT || c === UPPER_E || c === PLUS || (c === LOWER_E && digits > 0) ||
        (c === MINUS && text.charCodeAt(i + 1) === ZERO)
      ) plainNumbers = false;
      digits = 0;
    }
    if (quote === -1) break;
    const close = stringEnd(text, quote + 1);
    if (close === -1) break; // an unterminated string: not JSON
    at = close + 1;
  }
  return { members, plainNumbers };
}

/** The index of the quote that closes a string whose text starts at `from`, or -1. */
function stringEnd(text: string, from: number): number {
  for (let quote = text.indexOf('"', from); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let escapes = 0;
    while (text.charCodeAt(quote - 1 - escapes) === BACKSLASH) escapes++;
    if (escapes % 2 === 0) return quote;
  }
  return -1;
}
