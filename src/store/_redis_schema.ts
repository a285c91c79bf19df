/**
 * The Redis store's layout: key names, the Lua scripts that change several
 * keys in one atomic step, and entries turned into hash fields and back.
 * Private to `src/store/`; `redis.ts` describes the data model.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { NO_USAGE } from "../stats/usage.ts";
import type { CacheEntry, EntrySummary, NewEntry } from "./store.ts";

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
} as const;

/**
 * Shared by every script: ARGV[1] is the prefix. `unindex` takes a key out
 * of the indexes and the byte total; `drop` also deletes its hash and aliases
 * (an alias is only deleted while it still leads to that key).
 */
const PRELUDE = `
local p = ARGV[1]
local function unindex(k)
  redis.call('ZREM', p .. 'lru', k)
  redis.call('ZREM', p .. 'created', k)
  redis.call('ZREM', p .. 'expires', k)
  local info = redis.call('HGET', p .. 'info', k)
  if not info then return false end
  redis.call('HDEL', p .. 'info', k)
  local size, group = string.match(info, '^(%d+) (.*)$')
  if group ~= '' then redis.call('ZREM', p .. 'sim:' .. group, k) end
  if size ~= '0' then redis.call('HINCRBY', p .. 'stats', 'bytes', '-' .. size) end
  return true
end
local function drop(k)
  local set = p .. 'al:' .. k
  for _, alias in ipairs(redis.call('SMEMBERS', set)) do
    local ak = p .. 'a:' .. alias
    if redis.call('GET', ak) == k then redis.call('DEL', ak) end
  end
  redis.call('DEL', set, p .. 'e:' .. k)
  return unindex(k)
end
`;

/**
 * A hit: ARGV = prefix, key or alias, served if expires > ARGV[3], now.
 * Reads the entry, then counts the hit: HGET/GET/HGETALL, HINCRBY, HSET, ZADD.
 * Returns {key, fields} or false.
 */
const GET = `
local after = tonumber(ARGV[3])
local function fresh(k)
  local expires = redis.call('HGET', p .. 'e:' .. k, 'expires')
  return expires and tonumber(expires) > after
end
local k = ARGV[2]
if not fresh(k) then
  k = redis.call('GET', p .. 'a:' .. k)
  if not k or not fresh(k) then return false end
end
local ek = p .. 'e:' .. k
local fields = redis.call('HGETALL', ek)
redis.call('HINCRBY', ek, 'hits', 1)
redis.call('HSET', ek, 'lastHit', ARGV[4])
redis.call('ZADD', p .. 'lru', 'XX', ARGV[4], k)
return {k, fields}
`;

/**
 * A put: ARGV = prefix, key, ttl ms, max entries, created, expires, size,
 * similar group ('' for none), field count n, n name/value pairs, aliases.
 * Replaces the entry, points the aliases at it (taking them from another
 * entry), gives all of it the TTL, indexes it and evicts the least recently
 * hit entries beyond the cap, never the one just stored.
 */
const PUT = `
local key, ttl = ARGV[2], ARGV[3]
local ek, set = p .. 'e:' .. key, p .. 'al:' .. key
local n = tonumber(ARGV[9])
unindex(key)
redis.call('DEL', ek)
redis.call('HSET', ek, unpack(ARGV, 10, 9 + 2 * n))
redis.call('PEXPIRE', ek, ttl)
for i = 10 + 2 * n, #ARGV do
  local previous = redis.call('GET', p .. 'a:' .. ARGV[i])
  if previous and previous ~= key then redis.call('SREM', p .. 'al:' .. previous, ARGV[i]) end
  redis.call('SADD', set, ARGV[i])
end
for _, alias in ipairs(redis.call('SMEMBERS', set)) do
  redis.call('SET', p .. 'a:' .. alias, key, 'PX', ttl)
end
redis.call('PEXPIRE', set, ttl)
redis.call('ZADD', p .. 'lru', ARGV[5], key)
redis.call('ZADD', p .. 'created', ARGV[5], key)
redis.call('ZADD', p .. 'expires', ARGV[6], key)
redis.call('HSET', p .. 'info', key, ARGV[7] .. ' ' .. ARGV[8])
if ARGV[8] ~= '' then redis.call('ZADD', p .. 'sim:' .. ARGV[8], ARGV[5], key) end
redis.call('HINCRBY', p .. 'stats', 'bytes', ARGV[7])
local excess = redis.call('ZCARD', p .. 'lru') - tonumber(ARGV[4])
while excess > 0 do
  local oldest = redis.call('ZRANGE', p .. 'lru', 0, 1)
  local victim = oldest[1]
  if victim == key then victim = oldest[2] end
  if not victim then break end
  drop(victim)
  excess = excess - 1
end
return 1
`;

/** A delete: ARGV = prefix, key. Returns 1 if the key was stored. */
const DELETE = `
if drop(ARGV[2]) then return 1 end
return 0
`;

/** A prune step: ARGV = prefix, expired at or before, at most. Returns how many. */
const PRUNE = `
local keys = redis.call('ZRANGEBYSCORE', p .. 'expires', '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, k in ipairs(keys) do drop(k) end
return #keys
`;

/** Counter deltas: ARGV = prefix, then name/delta pairs, added in one step. */
const ADD_COUNTERS = `
for i = 2, #ARGV, 2 do redis.call('HINCRBYFLOAT', p .. 'counters', ARGV[i], ARGV[i + 1]) end
return 1
`;

/** History figures: ARGV = prefix, then (hash, expire at ms, field, delta) quads. */
const ADD_HISTORY = `
for i = 2, #ARGV, 4 do
  redis.call('HINCRBYFLOAT', p .. ARGV[i], ARGV[i + 2], ARGV[i + 3])
  redis.call('PEXPIREAT', p .. ARGV[i], ARGV[i + 1])
end
return 1
`;

/** A Lua script, run by its SHA-1 and sent whole only when Redis does not know it yet. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

/** The store's scripts, hashed once. */
export type Scripts = { readonly [name in keyof typeof SOURCES]: Script };

const SOURCES = {
  get: GET,
  put: PUT,
  delete: DELETE,
  prune: PRUNE,
  addCounters: ADD_COUNTERS,
  addHistory: ADD_HISTORY,
};

/**
 * Hashes every script (Redis names a loaded script by the SHA-1 of its text).
 *
 * @returns the scripts by name
 */
export async function loadScripts(): Promise<Scripts> {
  const entries = await Promise.all(
    Object.entries(SOURCES).map(async ([name, body]) => {
      const source = PRELUDE + body;
      const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(source));
      const sha = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join(
        "",
      );
      return [name, { source, sha }];
    }),
  );
  return Object.fromEntries(entries) as Scripts;
}

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
  const fields = new Map<string, Buffer>();
  META_FIELDS.forEach((name, i) => {
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
