/**
 * Canonical JSON: one spelling per JSON value, so that key order and
 * insignificant whitespace never split the cache.
 *
 * Numbers keep the exact text they were written with. `JSON.parse` would turn
 * `12345678901234567891` and `12345678901234567892` into the same double, and
 * two requests that differ would share a key: a wrong hit. Keeping the source
 * text means `1` and `1.0` key apart, which only costs a miss.
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

/** A parsed JSON value whose numbers remember their source text. */
export type JsonTree = string | boolean | null | JsonNumber | JsonTree[] | JsonObject;

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
  const members = memberCount(text);
  if (members === undefined) return undefined;
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

/**
 * Tells, without parsing, whether `text` nests arrays and objects deeper than
 * {@link MAX_JSON_DEPTH}: such text is not worth parsing, and a recursive walk
 * of its tree could overflow the stack.
 *
 * @param text a JSON document, or any text
 * @returns true when it nests too deep
 */
export function nestsTooDeep(text: string): boolean {
  return memberCount(text) === undefined;
}

/**
 * The canonical spelling of a tree: keys sorted, no whitespace, numbers as written.
 *
 * @param tree a tree from {@link parseJsonTree}, possibly edited
 * @returns the canonical JSON text
 */
export function canonicalize(tree: JsonTree): string {
  if (tree instanceof JsonNumber) return tree.source;
  if (Array.isArray(tree)) return `[${tree.map(canonicalize).join(",")}]`;
  if (isJsonObject(tree)) {
    const keys = Object.keys(tree).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(tree[k]!)}`).join(",")}}`;
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

/**
 * How many object members `text` spells, or undefined as soon as its nesting
 * passes {@link MAX_JSON_DEPTH}. One pass over the text between strings
 * (strings are skipped with `indexOf`): in valid JSON each `:` there ends one
 * member's name. What it says of text that is not JSON does not matter: that
 * text never parses.
 */
function memberCount(text: string): number | undefined {
  let members = 0;
  let depth = 0;
  for (let at = 0; at < text.length;) {
    const quote = text.indexOf('"', at);
    const end = quote === -1 ? text.length : quote;
    for (let i = at; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === COLON) members++;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (++depth > MAX_JSON_DEPTH) return undefined;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    }
    if (quote === -1) break;
    const close = stringEnd(text, quote + 1);
    if (close === -1) break; // an unterminated string: not JSON
    at = close + 1;
  }
  return members;
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
