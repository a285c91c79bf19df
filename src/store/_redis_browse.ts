/**
 * The Redis store's browsing side: `list()`, `entries()`, `similar()` and the
 * batched `prune()`. None of it is on the hit path: each walks an index newest
 * first, a page at a time, and skips members whose hash has expired but which
 * no prune has removed yet. Private to `src/store/`; `redis.ts` describes the
 * data model and delegates here.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import {
  fieldsOf,
  KEYS,
  META_FIELDS,
  metaFieldsOf,
  similarGroup,
  toBytes,
  toEntry,
  toSummary,
} from "./_redis_schema.ts";
import type {
  EntrySummary,
  ListOptions,
  SimilarQuery,
  SimilarRequest,
  StoredEntry,
} from "./store.ts";

/** Index members read per round trip while walking newest first. */
const PAGE = 100;

/** Entries removed per prune step. */
const PRUNE_BATCH = 500;

/** How the browsing side talks to Redis: the store's prefix and its commands. */
export interface RedisReader {
  /** The prefix of the store's keys. */
  readonly prefix: string;
  /** Sends one command; bulk strings come back as text. */
  text<T>(args: string[]): Promise<T>;
  /** Sends one command; bulk strings come back as Buffers (bodies are bytes, not text). */
  bytes<T>(args: string[]): Promise<T>;
}

/**
 * Lists entries without bodies, most recently created first.
 *
 * @param redis the store's commands
 * @param options page, key prefix and text filter
 * @returns the summaries of the page
 */
export async function listEntries(
  redis: RedisReader,
  options: ListOptions = {},
): Promise<EntrySummary[]> {
  const limit = options.limit ?? 100;
  const prefix = options.keyPrefix ?? "";
  const query = (options.query ?? "").toLowerCase();
  let skip = options.offset ?? 0;
  const listed: EntrySummary[] = [];
  if (limit === 0) return listed;
  for await (const page of newestFirst(redis, KEYS.created(redis.prefix))) {
    const keys = page.filter((key) => key.startsWith(prefix));
    const rows = await Promise.all(
      keys.map((key) =>
        redis.bytes<(Buffer | null)[]>(["HMGET", KEYS.entry(redis.prefix, key), ...META_FIELDS])
      ),
    );
    for (const [i, key] of keys.entries()) {
      const fields = metaFieldsOf(rows[i]!);
      if (!fields.has("created")) continue; // expired and gone, not yet pruned
      const summary = toSummary(key, fields);
      const text = `${summary.model ?? ""} ${summary.snippet}`.toLowerCase();
      if (query && !text.includes(query)) continue;
      if (skip > 0) skip--;
      else if (listed.push(summary) === limit) return listed;
    }
  }
  return listed;
}

/**
 * Every entry with its aliases, newest first: walks the creation index a page
 * at a time, reading one entry at a time.
 *
 * @param redis the store's commands
 * @param options only this namespace, only entries created since this time
 * @returns the entries, bodies included
 */
export async function* browseEntries(
  redis: RedisReader,
  options: { readonly namespace?: string; readonly since?: number } = {},
): AsyncGenerator<StoredEntry> {
  const since = options.since === undefined ? "-inf" : String(options.since);
  for await (const keys of newestFirst(redis, KEYS.created(redis.prefix), since)) {
    for (const key of keys) {
      const [reply, aliases] = await Promise.all([
        redis.bytes<Buffer[]>(["HGETALL", KEYS.entry(redis.prefix, key)]),
        redis.text<string[]>(["SMEMBERS", KEYS.aliasesOf(redis.prefix, key)]),
      ]);
      if (reply.length === 0) continue;
      const entry = toEntry(key, fieldsOf(reply));
      if (options.namespace !== undefined && entry.namespace !== options.namespace) continue;
      yield { ...entry, aliases: aliases.sort() };
    }
  }
}

/**
 * Stored requests with this path, model and namespace, newest first.
 *
 * @param redis the store's commands
 * @param query the route, model and namespace, and how many to return
 * @returns at most `query.limit` requests
 */
export async function similarRequests(
  redis: RedisReader,
  query: SimilarQuery,
): Promise<SimilarRequest[]> {
  const found: SimilarRequest[] = [];
  if (query.limit <= 0) return found;
  const group = KEYS.similar(redis.prefix, similarGroup(query));
  for await (const page of newestFirst(redis, group)) {
    const keys = await withinSize(redis, page, query.maxRequestBytes);
    const rows = await Promise.all(
      keys.map((key) =>
        redis.bytes<(Buffer | null)[]>([
          "HMGET",
          KEYS.entry(redis.prefix, key),
          "request",
          "created",
        ])
      ),
    );
    for (const [i, key] of keys.entries()) {
      const [request, created] = rows[i]!;
      if (!request || !created) continue; // expired and gone, not yet pruned
      found.push({ key, request: toBytes(request), createdAt: Number(String(created)) });
      if (found.length === query.limit) return found;
    }
  }
  return found;
}

/** The keys whose stored request is at most `maxBytes` long (all of them without a limit). */
async function withinSize(
  redis: RedisReader,
  keys: string[],
  maxBytes: number | undefined,
): Promise<string[]> {
  if (maxBytes === undefined) return keys;
  const sizes = await Promise.all(
    keys.map((key) => redis.text<number>(["HSTRLEN", KEYS.entry(redis.prefix, key), "request"])),
  );
  return keys.filter((_, i) => Number(sizes[i]) <= maxBytes);
}

/**
 * Runs prune steps of 500 entries until one removes fewer, so Redis is never
 * blocked for long.
 *
 * @param step removes at most `batch` expired entries, resolving to how many it removed
 * @returns how many entries were removed in all
 */
export async function pruneInBatches(step: (batch: number) => Promise<number>): Promise<number> {
  let pruned = 0;
  for (;;) {
    const n = await step(PRUNE_BATCH);
    pruned += n;
    if (n < PRUNE_BATCH) return pruned;
  }
}

/**
 * Keys of a sorted set by score, highest first, a page per yield. Each page
 * ends with every member tied on its last score, and the next page starts
 * below that score: a walk neither repeats nor skips a member that stays.
 */
async function* newestFirst(
  redis: RedisReader,
  set: string,
  min = "-inf",
): AsyncGenerator<string[]> {
  let max = "+inf";
  for (;;) {
    const reply = await redis.text<string[]>(
      ["ZREVRANGEBYSCORE", set, max, min, "WITHSCORES", "LIMIT", "0", String(PAGE)],
    );
    const last = reply.at(-1);
    if (last === undefined) return;
    const page = reply.filter((_, i) => i % 2 === 0 && reply[i + 1] !== last);
    page.push(...await redis.text<string[]>(["ZREVRANGEBYSCORE", set, last, last]));
    yield page;
    if (reply.length < 2 * PAGE) return;
    max = `(${last}`;
  }
}
