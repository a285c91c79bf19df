/**
 * The Redis store's layout: key names, and entries turned into hash fields
 * and back (the scripts that change them are in `_redis_scripts.ts`).
 * Private to `src/store/`; `redis.ts` describes the data model.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { NO_USAGE } from "../values/usage.ts";
import type { CachedAnswer, CacheEntry, EntrySummary, NewEntry } from "./store.ts";

/** Names of the keys under one prefix. */
export const KEYS = {
  /** Hash: one entry's meta fields, `body` and `request`. */
  entry: (prefix: string, key: string): string => `${prefix}e:${key}`,
  /** String: the entry key an alias leads to. */
  alias: (prefix: string, alias: string): string => `${prefix}a:${alias}`,
  /** Set: the aliases of one entry, so deleting it finds them. */
  aliasesOf: (prefix: string, key: string): string => `${prefix}al:${key}`,
  /** Sorted set: entry keys by last hit time (eviction); its size is the entry count. */
  lru: (prefix: string): string => `${prefix}lru`,
  /** Sorted set: entry keys by creation time (list, entries). */
  created: (prefix: string): string => `${prefix}created`,
  /** Sorted set: entry keys with a stored request, by creation time, per route/model/namespace. */
  similar: (prefix: string, group: string): string => `${prefix}sim:${group}`,
  /** Hash: the shared ledger counters. */
  counters: (prefix: string): string => `${prefix}counters`,
  /** Hash: running totals (`bytes`). */
  stats: (prefix: string): string => `${prefix}stats`,
  /** Hash: the fleet-wide settings (`maxEntries`, `staleMs`), written by the first instance. */
  settings: (prefix: string): string => `${prefix}settings`,
} as const;

/** The hash fields a listing reads: everything but the body and request. */
export const META_FIELDS = [
  "status",
  "type",
  "model",
  "path",
  "created",
  "expires",
  "lastHit",
  "hits",
  "size",
  "usage",
  "snippet",
  "ns",
  "timing",
] as const;

/**
 * The hash fields a hit reads, in this order: the answer, without the
 * request (often the largest field) or the hit time and count.
 */
export const ANSWER_FIELDS = [
  ...META_FIELDS.filter((name) => name !== "lastHit" && name !== "hits" && name !== "size"),
  "body",
] as const;

/**
 * The similar-requests group of an entry: its route, model and namespace.
 *
 * @param query the three fields
 * @returns the group name
 */
export function similarGroup(
  query: { readonly path: string; readonly model: string | undefined; readonly namespace: string },
): string {
  return JSON.stringify([query.path, query.model ?? null, query.namespace]);
}

/**
 * An entry as hash field/value pairs; `model` and `request` are left out when undefined.
 *
 * @param entry the entry
 * @returns names and values, alternating
 */
export function toFields(entry: NewEntry): (string | Buffer)[] {
  return [
    ...["status", String(entry.status), "type", entry.contentType, "path", entry.path],
    ...(entry.model === undefined ? [] : ["model", entry.model]),
    ...["created", String(entry.createdAt), "expires", String(entry.expiresAt)],
    ...["lastHit", String(entry.createdAt), "hits", "0", "size", String(entry.body.byteLength)],
    ...["usage", JSON.stringify(entry.usage), "snippet", entry.snippet, "ns", entry.namespace],
    ...["timing", JSON.stringify(entry.timing), "body", toBuffer(entry.body)],
    ...(entry.request === undefined ? [] : ["request", toBuffer(entry.request)]),
  ];
}

/**
 * Bytes as a Buffer over the same memory (no copy), as the client sends them.
 *
 * @param bytes the bytes
 * @returns a Buffer view
 */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Hash fields as read, by name; a missing field is absent. */
export type Fields = ReadonlyMap<string, Buffer>;

/**
 * HGETALL's flat reply as a map.
 *
 * @param reply names and values, alternating
 * @returns the fields by name
 */
export function fieldsOf(reply: readonly Buffer[]): Fields {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]!);
  return fields;
}

/**
 * HMGET's reply for {@link META_FIELDS} as a map.
 *
 * @param reply one value or null per field
 * @returns the fields present
 */
export function metaFieldsOf(reply: readonly (Buffer | null)[]): Fields {
  return namedFields(META_FIELDS, reply);
}

/** HMGET's reply for `names` as a map of the fields present. */
function namedFields(names: readonly string[], reply: readonly (Buffer | null)[]): Fields {
  const fields = new Map<string, Buffer>();
  names.forEach((name, i) => {
    const value = reply[i];
    if (value !== null && value !== undefined) fields.set(name, value);
  });
  return fields;
}

/**
 * An entry's listing from its fields.
 *
 * @param key the entry key
 * @param fields at least {@link META_FIELDS}
 * @returns the summary
 */
export function toSummary(key: string, fields: Fields): EntrySummary {
  const text = (name: string) => fields.get(name)?.toString("utf8") ?? "";
  const model = fields.get("model");
  return {
    key,
    status: Number(text("status")),
    contentType: text("type"),
    model: model === undefined ? undefined : model.toString("utf8"),
    path: text("path"),
    createdAt: Number(text("created")),
    expiresAt: Number(text("expires")),
    lastHitAt: Number(text("lastHit")),
    hitCount: Number(text("hits")),
    usage: { ...NO_USAGE, ...JSON.parse(text("usage") || "{}") },
    snippet: text("snippet"),
    namespace: text("ns"),
    timing: JSON.parse(text("timing") || "[]"),
    size: Number(text("size")),
  };
}

/**
 * What a hit serves, from HMGET's reply for {@link ANSWER_FIELDS}.
 *
 * @param key the entry key
 * @param reply one value or null per field
 * @returns the answer
 */
export function toAnswer(key: string, reply: readonly (Buffer | null)[]): CachedAnswer {
  const fields = namedFields(ANSWER_FIELDS, reply);
  const { size: _size, lastHitAt: _lastHitAt, hitCount: _hitCount, ...meta } = toSummary(
    key,
    fields,
  );
  return { ...meta, body: toBytes(fields.get("body") ?? Buffer.alloc(0)) };
}

/**
 * An entry from all its fields, body and request as plain Uint8Array views.
 *
 * @param key the entry key
 * @param fields every field of the hash
 * @returns the entry
 */
export function toEntry(key: string, fields: Fields): CacheEntry {
  const { size: _size, ...meta } = toSummary(key, fields);
  const request = fields.get("request");
  return {
    ...meta,
    body: toBytes(fields.get("body") ?? Buffer.alloc(0)),
    request: request === undefined ? undefined : toBytes(request),
  };
}

/**
 * A Buffer as a plain Uint8Array over the same memory, as SQLite hands out blobs.
 *
 * @param buffer what the client read
 * @returns the same bytes as a Uint8Array
 */
export function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
