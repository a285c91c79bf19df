/**
 * Request bodies as the miss explanations and the diff read them (private to
 * `cache/`): parsed once with every number kept as written, so that `1` and
 * `1.0` differ here as they do in the key, and compared field by field. A body
 * that is not a JSON object, or nests deeper than the key parses, is none.
 *
 * @module
 */
import { nestsTooDeep } from "./canonical_json.ts";

/** A number as written, so that `1` and `1.0` differ here as they do in the key. */
export class JsonNumber {
  constructor(readonly source: string) {}
}

/** A JSON value as parsed here. */
export type Json = string | boolean | null | JsonNumber | Json[] | JsonObject;

/** A request body parsed by this module. */
export interface JsonObject {
  [key: string]: Json;
}

/** The top-level field every comparison ignores, as the cache key does. */
export const IGNORED_FIELD = "metadata";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The body as a JSON object, or undefined when it is not one or nests too deep to walk. */
export function parseBody(bytes: Uint8Array): JsonObject | undefined {
  try {
    const text = strictUtf8.decode(bytes);
    if (nestsTooDeep(text)) return undefined;
    const value: Json = JSON.parse(text, keepNumberSource);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function keepNumberSource(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === "number" ? new JsonNumber(context?.source ?? String(value)) : value;
}

/** The body's `messages`, or none. */
export function messagesOf(body: JsonObject): readonly Json[] {
  const messages = body["messages"];
  return Array.isArray(messages) ? messages : [];
}

/** How many leading items two lists share. */
export function sharedPrefix(a: readonly Json[], b: readonly Json[]): number {
  let n = 0;
  while (n < a.length && n < b.length && equal(a[n]!, b[n]!)) n++;
  return n;
}

/** The keys of both objects, those of `a` first. */
export function unionKeys(a: JsonObject, b: JsonObject): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

/** Whether a value is a JSON object (not a list, a number or null). */
export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof JsonNumber);
}

/** Deep equality of two parsed values, numbers compared as written. */
export function equal(a: Json | undefined, b: Json | undefined): boolean {
  if (a instanceof JsonNumber || b instanceof JsonNumber) {
    return a instanceof JsonNumber && b instanceof JsonNumber && a.source === b.source;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => equal(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && equal(a[key], b[key]));
  }
  return a === b;
}
