/**
 * Canonical JSON: one spelling per JSON value, so that key order and
 * insignificant whitespace never split the cache.
 *
 * Numbers keep the exact text they were written with. `JSON.parse` would turn
 * `12345678901234567891` and `12345678901234567892` into the same double, and
 * two requests that differ would share a key: a wrong hit. Keeping the source
 * text means `1` and `1.0` key apart, which only costs a miss.
 *
 * The steps are exported on their own ({@link parseJsonTree}, then changes to
 * the tree, then {@link canonicalize}) so that the normalization tiers can
 * edit a parsed request without ever turning a number into a double.
 *
 * @module
 */

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
 * @returns the canonical spelling: sorted keys, no whitespace, numbers as written
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
 * @returns the tree, or undefined when `text` is not JSON
 */
export function parseJsonTree(text: string): JsonTree | undefined {
  try {
    return JSON.parse(text, keepNumberSource);
  } catch {
    return undefined;
  }
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

function keepNumberSource(this: unknown, _key: string, value: unknown, context?: ReviverContext) {
  if (typeof value !== "number") return value;
  if (context?.source === undefined) throw new Error("JSON.parse source text access is required");
  return new JsonNumber(context.source);
}
