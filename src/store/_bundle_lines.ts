/**
 * Bundle lines: an entry turned into one JSON line and back, every field of a
 * line read back checked, bodies as base64; also the header line's check.
 * Private to `src/store/`; `bundle.ts` documents the format and streams the
 * lines.
 *
 * @module
 */
import { NO_USAGE, type Usage } from "../values/usage.ts";
import type { NewEntry, StoredEntry } from "./store.ts";

/** The `format` of a bundle's header. */
export const BUNDLE_FORMAT = "llm-cache-proxy-bundle";

/** The bundle version this code writes and reads. */
export const BUNDLE_VERSION = 1;

/** The first line of a bundle. */
export interface BundleHeader {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: typeof BUNDLE_VERSION;
  /** When the bundle was written (ISO 8601). */
  readonly createdAt: string;
  /** The namespace exported, or null for all. */
  readonly namespace: string | null;
  /** Only entries stored since this time (ISO 8601) were exported; null for all. */
  readonly since: string | null;
}

/** A file that is not a bundle this code can read, or a damaged one. */
export class BundleError extends Error {
  /** @param message what is wrong with the file */
  constructor(message: string) {
    super(message);
    this.name = "BundleError";
  }
}

/**
 * The error for a file that is not a bundle at all.
 *
 * @param why what gave it away
 * @returns the error, saying which file is expected
 */
export function notABundle(why: string): BundleError {
  return new BundleError(
    `not an llm-cache-proxy bundle (${why}); expected a file written by "llm-cache-proxy export"`,
  );
}

/** One line of a bundle, parsed: a JSON object. */
export type Line = Record<string, unknown>;

/**
 * Parses one line of a bundle as a JSON object.
 *
 * @param text the line, without its `\n`
 * @param number the line's number, from 1, for errors
 * @returns the object
 * @throws {BundleError} when the line is not a JSON object
 */
export function parseLine(text: string, number: number): Line {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    if (number === 1) throw notABundle("its first line is not JSON");
    throw new BundleError(`line ${number} is not JSON`);
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Line;
  if (number === 1) throw notABundle("its first line is not a JSON object");
  throw new BundleError(`line ${number} is not a JSON object`);
}

/**
 * Checks the header line's format and version.
 *
 * @param line the first line
 * @returns the header; a `namespace` or `since` that is not text reads as null
 * @throws {BundleError} when the file is not a bundle, or not of this version
 */
export function checkHeader(line: Line): BundleHeader {
  if (line.format !== BUNDLE_FORMAT) {
    throw notABundle(
      `its header names format ${JSON.stringify(line.format ?? null)}, not "${BUNDLE_FORMAT}"`,
    );
  }
  if (line.version !== BUNDLE_VERSION) {
    throw new BundleError(
      `the bundle is version ${JSON.stringify(line.version ?? null)}; this llm-cache-proxy reads ` +
        `version ${BUNDLE_VERSION} only. Import it with the llm-cache-proxy that wrote it, or upgrade`,
    );
  }
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    createdAt: text(line.createdAt) ?? "",
    namespace: text(line.namespace),
    since: text(line.since),
  };
}

/**
 * The fields of a bundle line, chosen one by one: nothing else leaves the store.
 *
 * @param entry the stored entry
 * @returns the entry line, bodies in base64
 */
export function entryLine(entry: StoredEntry): Line {
  return {
    type: "entry",
    key: entry.key,
    aliases: [...entry.aliases],
    status: entry.status,
    contentType: entry.contentType,
    model: entry.model ?? null,
    path: entry.path,
    namespace: entry.namespace,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    usage: Object.fromEntries(USAGE_FIELDS.map((name) => [name, entry.usage[name]])),
    snippet: entry.snippet,
    timing: entry.timing.map(([offset, ms]) => [offset, ms]),
    body: entry.body.toBase64(),
    request: entry.request?.toBase64() ?? null,
  };
}

const USAGE_FIELDS = Object.keys(NO_USAGE) as (keyof Usage)[];

/**
 * An entry line read back, each field checked.
 *
 * @param line the parsed line
 * @param number the line's number, for errors
 * @returns the entry to store and its aliases
 * @throws {BundleError} when the line is not an entry line, or a field is invalid
 */
export function toNewEntry(line: Line, number: number): { entry: NewEntry; aliases: string[] } {
  if (line.type !== "entry") {
    throw new BundleError(`line ${number}: unknown line type ${JSON.stringify(line.type ?? null)}`);
  }
  const field = <T>(name: string, ok: (v: unknown) => v is T, what: string): T => {
    const value = line[name];
    if (!ok(value)) throw new BundleError(`line ${number}: "${name}" is not ${what}`);
    return value;
  };
  const base64 = (name: string, value: string): Uint8Array => {
    try {
      return Uint8Array.fromBase64(value);
    } catch {
      throw new BundleError(`line ${number}: "${name}" is not base64`);
    }
  };
  const usage = field("usage", isObject, "an object");
  const request = field("request", isStringOrNull, "base64 or null");
  const entry: NewEntry = {
    key: field("key", isKey, "a key"),
    status: field("status", isInteger, "an HTTP status"),
    contentType: field("contentType", isString, "a string"),
    model: field("model", isStringOrNull, "a string or null") ?? undefined,
    path: field("path", isString, "a string"),
    namespace: field("namespace", isString, "a string"),
    createdAt: field("createdAt", isInteger, "a time in ms"),
    expiresAt: field("expiresAt", isInteger, "a time in ms"),
    usage: Object.fromEntries(USAGE_FIELDS.map((name) => {
      const n = usage[name] ?? 0;
      if (!isInteger(n)) throw new BundleError(`line ${number}: "usage.${name}" is not a count`);
      return [name, n];
    })) as unknown as Usage,
    snippet: field("snippet", isString, "a string"),
    timing: field("timing", isTiming, "a list of [offset, ms] pairs"),
    body: base64("body", field("body", isString, "base64")),
    request: request === null ? undefined : base64("request", request),
  };
  return { entry, aliases: field("aliases", isKeys, "a list of keys") };
}

/**
 * A value as one UTF-8 NDJSON line.
 *
 * @param value what to write
 * @returns its JSON and a `\n`, encoded
 */
export function jsonLine(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value)}\n`);
}

const isString = (v: unknown): v is string => typeof v === "string";
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);
const isKey = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isKeys = (v: unknown): v is string[] => Array.isArray(v) && v.every(isKey);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isTiming = (v: unknown): v is [number, number][] =>
  Array.isArray(v) &&
  v.every((pair) => Array.isArray(pair) && pair.length === 2 && pair.every(Number.isFinite));
