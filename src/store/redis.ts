/**
 * The shared store: a Redis (or Valkey) server that a team or a CI fleet of
 * proxies points at with `CACHE_STORE=redis://…`, through npm `redis`
 * (node-redis). Standalone servers only; Redis Cluster is not supported.
 *
 * Data model, every key under one prefix (`llm-cache-proxy:` by default):
 *
 * | key | type | holds |
 * | --- | --- | --- |
 * | `e:<key>` | hash | one entry: meta fields, `body` and `request` as raw bytes |
 * | `a:<alias>` | string | the entry key an alias leads to |
 * | `al:<key>` | set | the aliases of an entry, so that deleting it finds them |
 * | `lru` | sorted set | entry keys by last hit time: eviction order; ZCARD is the count |
 * | `created` | sorted set | entry keys by creation time: `list()`, `entries()` |
 * | `expires` | sorted set | entry keys by expiry time: `prune()` |
 * | `gone` | sorted set | entry keys by the end of their Redis TTL: `count()` cleans up after them |
 * | `sim:<route, model, namespace>` | sorted set | keys with a stored request, by creation |
 * | `info` | hash | entry key → "size group": undoes the indexes once its hash is gone |
 * | `stats` | hash | `bytes`: the running total of body bytes |
 * | `counters` | hash | the ledger's all-time counters, shared by every instance |
 * | `settings` | hash | the fleet's entry cap and stale window (`_redis_settings.ts`) |
 * | `h:minute:<hour>`, `h:hour:<day>` | hash | the dashboard's history (`_redis_history.ts`) |
 *
 * (`lock:<key>` and the `feed:<token>` streams under the same prefix are `redis_locks.ts`'s;
 * `hb:<instance>`, a heartbeat key, is the hot tier's, `_redis_hot.ts`.)
 *
 * Every change is one Lua script, so it is atomic: a put writes the hash,
 * the aliases, the indexes and the byte total and evicts beyond the cap
 * (a few entries per put) in one step; a hit reads the hash and counts itself (HINCRBY, HSET, ZADD):
 * O(log n), never a scan. Entry, alias and alias-set keys expire by Redis
 * TTL at `expiresAt + staleMs` (measured on this store's clock, so a
 * skewed server clock does not shorten it), which lets `getStale()` read a
 * recently expired entry while `get()` treats it as a miss. Once a hash's
 * TTL has ended, `count()` and `bytes()` take it out of the indexes (a
 * batch at a time), so they count what Redis holds; reads skip such
 * members meanwhile. `list()`, `entries()` and `similar()` walk an index
 * newest first, a page at a time: they are not on the hit path. Under a
 * memory limit, use `maxmemory-policy volatile-lru` (or `noeviction`): it
 * only drops entries, which the indexes survive; `allkeys-*` may drop an index.
 *
 * Fail fast (`_redis_client.ts`): commands are never queued while
 * disconnected (they reject at once), each one times out after
 * `commandTimeoutMs`, the client reconnects in the background every
 * 500 ms (`RETRY_EVERY_MS`), and a dropped connection is an error event,
 * never a crash. `open()` returns within about a second even when Redis is
 * down; a fail-open wrapper turns the rejections into misses and probes
 * recovery with {@link RedisStore.ping}.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { RedisTls } from "../_config_tls.ts";
import type { HistoryRow, Resolution } from "../values/history_row.ts";
import { historyArgs, historyKeys, historyRows } from "./_redis_history.ts";
import {
  BUFFERS,
  type CommandOptions,
  type Connection,
  connection,
  disconnect,
  evalScript,
  firstAttempt,
  send,
} from "./_redis_client.ts";
import {
  browseEntries,
  listEntries,
  pruneInBatches,
  type RedisReader,
  similarRequests,
} from "./_redis_browse.ts";
import { fieldsOf, KEYS, similarGroup, toAnswer, toEntry, toFields } from "./_redis_schema.ts";
import { loadScripts, type Scripts } from "./_redis_scripts.ts";
import { type FleetSettings, fleetSettings } from "./_redis_settings.ts";
import { HotTier, type TrackingClient } from "./_redis_hot.ts";
import { DEFAULT_PREFIX, RedisFlightLocks } from "./redis_locks.ts";
import type {
  CachedAnswer,
  CacheEntry,
  CacheStore,
  EntrySummary,
  ListOptions,
  NewEntry,
  SimilarQuery,
  SimilarRequest,
  StoredEntry,
} from "./store.ts";

/**
 * An entry stored past its stale window (an old bundle) still lives this long,
 * as SQLite keeps it until the next prune.
 */
const MIN_TTL_MS = 60_000;

/** Options of {@link RedisStore.open}. */
export interface RedisStoreOptions {
  /** Entries kept before the least recently hit are evicted. */
  readonly maxEntries: number;
  /** How long an expired entry stays readable by `getStale()`, in ms. @default 86_400_000 */
  readonly staleMs?: number;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Prefix of every key, so a shared Redis can hold other data. @default "llm-cache-proxy:" */
  readonly prefix?: string;
  /** A command fails after this many ms (a put gets 1 s more per MiB). @default 1000 */
  readonly commandTimeoutMs?: number;
  /** For `rediss://`: a CA to trust, a client certificate and its key (PEM texts). */
  readonly tls?: RedisTls | undefined;
  /** Told once when the fleet's settings in Redis differ from this instance's. */
  readonly note?: (message: string) => void;
  /** Bytes of recently read entries kept in memory (`_redis_hot.ts`); 0: none. @default 64 MiB */
  readonly hotBytes?: number;
}

/** Expired entries taken out of the indexes per count. */
const SWEEP_BATCH = 1000;

/** A {@link CacheStore} on a Redis server, shared by every proxy that names it. */
export class RedisStore implements CacheStore, AsyncDisposable {
  #conn: Connection;
  #scripts: Scripts;
  #prefix: string;
  #now: () => number;
  #maxEntries: number;
  #staleMs: number;
  #timeoutMs: number;
  /** The fleet's settings, read (and written, by the first instance) once per store. */
  #settings: () => Promise<FleetSettings>;
  /** The browsing side's way in: the prefix, and commands that explain their errors. */
  #reader: RedisReader;
  /** Cross-instance coalescing on the same Redis, keys under the same prefix. */
  readonly locks: RedisFlightLocks;
  #hot: HotTier | undefined;

  private constructor(conn: Connection, scripts: Scripts, options: RedisStoreOptions) {
    this.#conn = conn;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX; // the locks' default: one key space
    // Through the connection, never one client: a stuck client is replaced.
    const client = {
      sendCommand: (...args: Parameters<Connection["client"]["sendCommand"]>) =>
        conn.client.sendCommand(...args),
      duplicate: () => conn.client.duplicate(),
    };
    this.locks = new RedisFlightLocks(client, { prefix: this.#prefix });
    this.#scripts = scripts;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries;
    this.#staleMs = options.staleMs ?? 86_400_000;
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#settings = fleetSettings({
      local: { maxEntries: this.#maxEntries, staleMs: this.#staleMs },
      key: KEYS.settings(this.#prefix),
      run: (argv) => this.#eval("settings", argv),
      note: options.note,
    });
    const hotBytes = options.hotBytes ?? 64 * 1024 * 1024;
    this.#hot = hotBytes <= 0 ? undefined : new HotTier({
      prefix: this.#prefix,
      maxBytes: hotBytes,
      connect: () => conn.client.duplicate() as unknown as TrackingClient,
      send: (args) => send(conn, args),
      countHits: (triples) => this.#eval("hits", triples),
    });
    this.#reader = {
      prefix: this.#prefix,
      text: (args) => send(conn, args),
      bytes: (args) => send(conn, args, BUFFERS),
    };
  }

  /**
   * Connects to `url` (`redis://[user:pass@]host:port[/db]`, or `rediss://` for
   * TLS). Returns once connected, or after about a second when Redis is down:
   * the store then rejects every command until Redis is back.
   *
   * @param url where Redis is
   * @param options the entry cap, stale window, clock and key prefix
   * @returns the store
   * @throws {TypeError} when `url` is not a Redis URL
   * @example
   * ```ts
   * const store = await RedisStore.open("redis://127.0.0.1:6379", { maxEntries: 5000 });
   * ```
   */
  static async open(url: string, options: RedisStoreOptions): Promise<RedisStore> {
    const conn = connection(url, options.commandTimeoutMs ?? 1000, options.tls);
    const store = new RedisStore(conn, await scripts(), options);
    await firstAttempt(conn.client);
    if (conn.client.isReady) await store.#settings().catch(() => {}); // says now if they differ
    return store;
  }

  /** The prefix of this store's keys. */
  get prefix(): string {
    return this.#prefix;
  }

  /** From the hot tier while it is live (a hit counted later), else one script. */
  get(key: string): Promise<CachedAnswer | undefined> {
    const now = this.#now();
    const read = (count: boolean) => this.#hit(key, now, now, count);
    return this.#hot ? this.#hot.read(key, now, read) : read(true);
  }

  getStale(key: string, graceMs: number): Promise<CachedAnswer | undefined> {
    const now = this.#now();
    return this.#hit(key, now - Math.max(graceMs, 0), now);
  }

  similar(
    query: SimilarQuery,
  ): Promise<SimilarRequest[]> {
    return similarRequests(this.#reader, query);
  }

  /** Walks the creation index a page at a time, reading one entry at a time. */
  async *entries(
    options: { readonly namespace?: string; readonly since?: number } = {},
  ): AsyncGenerator<StoredEntry> {
    await this.#hot?.countHits();
    yield* browseEntries(this.#reader, options);
  }

  async put(entry: NewEntry, aliases: readonly string[] = []): Promise<void> {
    const { maxEntries, staleMs } = await this.#settings();
    const now = this.#now();
    const ttl = Math.max(Math.ceil(entry.expiresAt + staleMs - now), MIN_TTL_MS);
    const fields = toFields(entry);
    const bytes = entry.body.byteLength + (entry.request?.byteLength ?? 0);
    await this.#eval("put", [
      entry.key,
      String(ttl),
      String(now + ttl),
      String(maxEntries),
      String(entry.createdAt),
      String(entry.expiresAt),
      String(entry.body.byteLength),
      entry.request === undefined ? "" : similarGroup(entry),
      String(fields.length / 2),
      ...fields,
      ...aliases,
    ], { timeout: this.#timeoutMs + Math.ceil(bytes / 1024 / 1024) * 1000 });
  }

  async inspect(key: string): Promise<CacheEntry | undefined> {
    await this.#hot?.countHits();
    const reply = await send<Buffer[]>(this.#conn, ["HGETALL", this.#entryKey(key)], BUFFERS);
    return reply.length === 0 ? undefined : toEntry(key, fieldsOf(reply));
  }

  async delete(key: string): Promise<boolean> {
    return await this.#eval("delete", [key]) === 1;
  }

  async list(options: ListOptions = {}): Promise<EntrySummary[]> {
    await this.#hot?.countHits();
    return await listEntries(this.#reader, options);
  }

  /** Entries Redis still holds: those whose TTL ended leave the count here. */
  async count(): Promise<number> {
    return (await this.#live())[0];
  }

  /** Body bytes of the entries Redis still holds. */
  async bytes(): Promise<number> {
    return (await this.#live())[1];
  }

  /**
   * Deletes entries that expired before `olderThan`, but never one still in
   * the fleet's stale window (the longest any instance asked for): what
   * another instance may serve stays.
   */
  async prune(olderThan: number): Promise<number> {
    const { staleMs } = await this.#settings();
    const before = Math.min(olderThan, this.#now() - staleMs);
    return await pruneInBatches(async (batch) =>
      Number(await this.#eval("prune", [String(before), String(batch)]))
    );
  }

  async addCounters(deltas: ReadonlyMap<string, number>): Promise<void> {
    if (deltas.size === 0) return;
    await this.#eval("addCounters", [...deltas].flatMap(([name, value]) => [name, String(value)]));
  }

  async addHistory(
    rows: readonly HistoryRow[],
    dropBefore: Readonly<Record<Resolution, number>>,
  ): Promise<void> {
    const args = historyArgs(rows, dropBefore, this.#now());
    if (args.length > 0) await this.#eval("addHistory", args);
  }

  async readHistory(resolution: Resolution, since: number): Promise<HistoryRow[]> {
    const keys = historyKeys(resolution, since, this.#now());
    const replies = await Promise.all(
      keys.map((key) => send<string[]>(this.#conn, ["HGETALL", this.#prefix + key])),
    );
    return historyRows(resolution, since, replies);
  }

  async readCounters(): Promise<Map<string, number>> {
    const reply = await send<string[]>(this.#conn, ["HGETALL", KEYS.counters(this.#prefix)]);
    const counters = new Map<string, number>();
    for (let i = 0; i + 1 < reply.length; i += 2) counters.set(reply[i]!, Number(reply[i + 1]));
    return counters;
  }

  /**
   * Asks Redis whether it is there: cheap enough to probe recovery with.
   *
   * @returns resolves when Redis answered
   * @throws {Error} while Redis cannot be reached, saying where it was looked for
   */
  async ping(): Promise<void> {
    await send(this.#conn, ["PING"]);
  }

  /** Waits for commands in flight (at most a command timeout), then disconnects. */
  async close(): Promise<void> {
    if (this.#conn.closed) return;
    this.#conn.closed = true;
    await this.locks.close();
    await this.#hot?.close();
    await disconnect(this.#conn);
  }

  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A read by key or alias, counted now unless `count` is false (the hot tier counts it). */
  async #hit(
    key: string,
    after: number,
    now: number,
    count = true,
  ): Promise<CachedAnswer | undefined> {
    const args = [key, String(after), String(now), count ? "1" : "0"];
    const reply = await this.#eval("get", args, BUFFERS);
    if (!Array.isArray(reply)) return undefined;
    const [found, values] = reply as [Buffer, (Buffer | null)[]];
    return toAnswer(String(found), values);
  }

  async #live(): Promise<[number, number]> {
    const reply = await this.#eval("live", [String(this.#now()), String(SWEEP_BATCH)]);
    const [count, bytes] = reply as [number, string];
    return [Number(count), Number(bytes)];
  }

  #entryKey(key: string): string {
    return KEYS.entry(this.#prefix, key);
  }

  /** Runs one of the store's scripts; the prefix is its ARGV[1]. */
  #eval(
    name: keyof Scripts,
    args: readonly (string | Buffer)[],
    options?: CommandOptions,
  ): Promise<unknown> {
    const call = { script: this.#scripts[name], argv: [this.#prefix, ...args] };
    return evalScript(this.#conn, call, options);
  }
}

let scriptsLoaded: Promise<Scripts> | undefined;

/** The scripts, hashed once per process. */
function scripts(): Promise<Scripts> {
  return scriptsLoaded ??= loadScripts();
}
