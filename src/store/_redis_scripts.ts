/**
 * The Redis store's Lua scripts: each change of several keys is one script,
 * so it is atomic. Private to `src/store/`; `redis.ts` describes the data
 * model and `_redis_schema.ts` names the keys.
 *
 * @module
 */

import { ANSWER_FIELDS } from "./_redis_schema.ts";

/** The most entries one put evicts. */
const MAX_EVICTIONS = 32;

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
  redis.call('ZREM', p .. 'gone', k)
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
 * A hit: ARGV = prefix, key or alias, served if expires > ARGV[3], now, and
 * whether to count it ("1") or leave that to a later `hits` ("0": the entry
 * goes to the hot tier, and changing its hash would invalidate it there).
 * Reads the answer, then counts the hit: HGET/GET/HMGET, HINCRBY, HSET, ZADD.
 * Returns {key, values of ANSWER_FIELDS in order} or false.
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
local fields = redis.call('HMGET', ek, ${ANSWER_FIELDS.map((name) => `'${name}'`).join(", ")})
if ARGV[5] == '1' then
  redis.call('HINCRBY', ek, 'hits', 1)
  redis.call('HSET', ek, 'lastHit', ARGV[4])
  redis.call('ZADD', p .. 'lru', 'XX', ARGV[4], k)
end
return {k, fields}
`;

/**
 * Hits served from the hot tier, counted later: ARGV = prefix, then key,
 * count, last hit time triples. An entry gone meanwhile is skipped; the
 * last hit time only moves forward.
 */
const HITS = `
for i = 2, #ARGV, 3 do
  local k, t = ARGV[i], tonumber(ARGV[i + 2])
  local ek = p .. 'e:' .. k
  if redis.call('EXISTS', ek) == 1 then
    redis.call('HINCRBY', ek, 'hits', ARGV[i + 1])
    if tonumber(redis.call('HGET', ek, 'lastHit') or '0') < t then
      redis.call('HSET', ek, 'lastHit', ARGV[i + 2])
      redis.call('ZADD', p .. 'lru', 'XX', ARGV[i + 2], k)
    end
  end
end
return 1
`;

/**
 * A put: ARGV = prefix, key, ttl ms, gone at (when the TTL ends), max entries,
 * created, expires, size, similar group ('' for none), field count n, n
 * name/value pairs, aliases. Replaces the entry, points the aliases at it
 * (taking them from another entry), gives all of it the TTL, indexes it and
 * evicts the least recently hit entries beyond the cap, never the one just
 * stored, and at most MAX_EVICTIONS (32) in one put: a lower cap is reached over
 * the next puts, never in one long script.
 */
const PUT = `
local key, ttl = ARGV[2], ARGV[3]
local ek, set = p .. 'e:' .. key, p .. 'al:' .. key
local n = tonumber(ARGV[10])
unindex(key)
redis.call('DEL', ek)
redis.call('HSET', ek, unpack(ARGV, 11, 10 + 2 * n))
redis.call('PEXPIRE', ek, ttl)
for i = 11 + 2 * n, #ARGV do
  local previous = redis.call('GET', p .. 'a:' .. ARGV[i])
  if previous and previous ~= key then redis.call('SREM', p .. 'al:' .. previous, ARGV[i]) end
  redis.call('SADD', set, ARGV[i])
end
for _, alias in ipairs(redis.call('SMEMBERS', set)) do
  redis.call('SET', p .. 'a:' .. alias, key, 'PX', ttl)
end
redis.call('PEXPIRE', set, ttl)
redis.call('ZADD', p .. 'lru', ARGV[6], key)
redis.call('ZADD', p .. 'created', ARGV[6], key)
redis.call('ZADD', p .. 'expires', ARGV[7], key)
redis.call('ZADD', p .. 'gone', ARGV[4], key)
redis.call('HSET', p .. 'info', key, ARGV[8] .. ' ' .. ARGV[9])
if ARGV[9] ~= '' then redis.call('ZADD', p .. 'sim:' .. ARGV[9], ARGV[6], key) end
redis.call('HINCRBY', p .. 'stats', 'bytes', ARGV[8])
local excess = math.min(redis.call('ZCARD', p .. 'lru') - tonumber(ARGV[5]), ${MAX_EVICTIONS})
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

/**
 * The live entry count and byte total: ARGV = prefix, now, at most. First
 * takes out of the indexes up to that many entries whose TTL ended by now
 * and whose hash Redis has indeed dropped (one kept longer is looked at
 * again when its TTL ends). Returns {count, bytes}.
 */
const LIVE = `
local now = tonumber(ARGV[2])
for _, k in ipairs(redis.call('ZRANGEBYSCORE', p .. 'gone', '-inf', now, 'LIMIT', 0, ARGV[3])) do
  local ttl = redis.call('PTTL', p .. 'e:' .. k)
  if ttl == -2 then drop(k)
  elseif ttl == -1 then redis.call('ZREM', p .. 'gone', k)
  else redis.call('ZADD', p .. 'gone', now + ttl, k) end
end
return {redis.call('ZCARD', p .. 'lru'), redis.call('HGET', p .. 'stats', 'bytes') or '0'}
`;

/**
 * The fleet-wide settings: ARGV = prefix, this instance's max entries and
 * stale window (ms). The first instance's cap stands; the longest stale
 * window wins, so no instance prunes what another may still serve.
 * Returns {maxEntries, staleMs}.
 */
const SETTINGS = `
local s = p .. 'settings'
redis.call('HSETNX', s, 'maxEntries', ARGV[2])
if tonumber(redis.call('HGET', s, 'staleMs') or '-1') < tonumber(ARGV[3]) then
  redis.call('HSET', s, 'staleMs', ARGV[3])
end
return redis.call('HMGET', s, 'maxEntries', 'staleMs')
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
  hits: HITS,
  live: LIVE,
  settings: SETTINGS,
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
