/**
 * The Redis store's hot tier (private to `redis.ts`): recently read entries
 * kept in memory, bounded in bytes, so that a repeat hit costs a map lookup
 * instead of a round trip, and never served once Redis no longer holds them.
 *
 * How it stays true: a connection of its own asks Redis to report every
 * change to the store's entry and alias keys (`CLIENT TRACKING … BCAST`,
 * invalidation messages on `__redis__:invalidate`): a put, a delete, an
 * eviction or an expiry anywhere in the fleet drops the entry here. Lost
 * messages cannot go unnoticed: the tier also watches a heartbeat key this
 * instance writes every {@link BEAT_EVERY_MS} ms through the command
 * connection, and only serves while its invalidation came back within
 * {@link BEAT_TIMEOUT_MS} ms; any error on its connection, or a heartbeat
 * that stops coming, empties the tier. An entry read while an invalidation
 * arrived is not kept, since it may predate the change.
 *
 * Hits the tier serves are counted in Redis later, at most
 * {@link COUNT_EVERY_MS} ms on, in one script per batch: counting each one
 * would change the entry's hash, which would drop it from every tier.
 *
 * @module
 */
import { Lru } from "../lru.ts";
import type { CachedAnswer } from "./store.ts";

/** How often this instance writes its heartbeat key, in ms. */
const BEAT_EVERY_MS = 250;

/** The tier serves only while its heartbeat came back this recently, in ms. */
const BEAT_TIMEOUT_MS = 1000;

/** An attempt to open the tracking connection is made at most this often, in ms. */
const RETRY_EVERY_MS = 1000;

/** How often hits served here are counted in Redis, in ms. */
const COUNT_EVERY_MS = 1000;

/** Entries whose invalidation is remembered, to tell when a kept alias is out of date. */
const MAX_REMEMBERED = 100_000;

/** The connection the tier listens on (a duplicate of the store's client). */
export interface TrackingClient {
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  subscribe(channel: string, listener: (keys: unknown) => unknown): Promise<unknown>;
  on(event: "error", listener: (error: unknown) => void): unknown;
  destroy(): void;
}

/** What the tier needs from the store. */
export interface HotTierOptions {
  /** The store's key prefix. */
  readonly prefix: string;
  /** The byte budget. */
  readonly maxBytes: number;
  /** A new connection to Redis, for the tier's own use. */
  readonly connect: () => TrackingClient;
  /** Writes a key through the store's command connection (for the heartbeat). */
  readonly send: (args: string[]) => Promise<unknown>;
  /** Counts hits in Redis: key, count, last hit time (ms), for each entry. */
  readonly countHits: (triples: string[]) => Promise<unknown>;
}

interface Kept {
  readonly entry: CachedAnswer;
  /** The invalidation count when it was read. */
  readonly since: number;
}

/** Recently read entries of a Redis store, dropped as Redis reports them changed. */
export class HotTier {
  readonly #options: HotTierOptions;
  readonly #lru: Lru<string, Kept>;
  readonly #beatKey: string;
  readonly #beat: ReturnType<typeof setInterval>;
  readonly #counter: ReturnType<typeof setInterval>;
  /** Entry key → hits served and the last one's time, not yet counted in Redis. */
  #hits = new Map<string, { count: number; last: number }>();
  /** Invalidations received so far. */
  #count = 0;
  /** Entry key → the invalidation count at its last change. */
  #changed = new Map<string, number>();
  #beatSeenAt = -Infinity;
  #client: TrackingClient | undefined;
  #openedAt = -Infinity;
  #closed = false;

  /** @param options the prefix, budget, and the store's connections */
  constructor(options: HotTierOptions) {
    this.#options = options;
    this.#lru = new Lru(options.maxBytes);
    this.#beatKey = `${options.prefix}hb:${crypto.randomUUID()}`;
    this.#beat = setInterval(() => this.#sendBeat(), BEAT_EVERY_MS);
    Deno.unrefTimer(Number(this.#beat));
    this.#counter = setInterval(() => this.countHits(), COUNT_EVERY_MS);
    Deno.unrefTimer(Number(this.#counter));
  }

  /** True while every change in Redis is known to reach the tier. */
  get live(): boolean {
    return this.#client !== undefined && performance.now() - this.#beatSeenAt < BEAT_TIMEOUT_MS;
  }

  /** The invalidation count, to pass to {@link keep} for a read about to be made. */
  mark(): number {
    return this.#count;
  }

  /**
   * Reads through the tier: a kept entry, else `fetch` (which counts the hit
   * itself while the tier is not live; otherwise the tier keeps the entry
   * and counts the hit later).
   *
   * @param key the key or alias
   * @param now ms since the epoch
   * @param fetch reads Redis, counting the hit there when told to
   * @returns the entry, or undefined
   */
  async read(
    key: string,
    now: number,
    fetch: (count: boolean) => Promise<CachedAnswer | undefined>,
  ): Promise<CachedAnswer | undefined> {
    const kept = this.lookup(key, now);
    if (kept) {
      this.hit(kept.key, now);
      return kept;
    }
    if (!this.live) return await fetch(true);
    const mark = this.mark();
    const entry = await fetch(false);
    if (entry) {
      this.keep(key, entry, mark);
      this.hit(entry.key, now);
    }
    return entry;
  }

  /**
   * A kept entry that is still fresh at `now`, by key or alias.
   *
   * @param key the key or alias
   * @param now ms since the epoch
   * @returns the entry, or undefined
   */
  lookup(key: string, now: number): CachedAnswer | undefined {
    if (!this.live) {
      if (this.#lru.size > 0) this.#forget();
      this.#open();
      return undefined;
    }
    const kept = this.#lru.get(key);
    if (!kept) return undefined;
    const changed = this.#changed.get(kept.entry.key);
    if ((changed !== undefined && changed > kept.since) || kept.entry.expiresAt <= now) {
      this.#lru.delete(key);
      return undefined;
    }
    return kept.entry;
  }

  /**
   * Keeps an entry read from Redis, unless an invalidation came since `mark`.
   *
   * @param key the key or alias it was read by
   * @param entry the entry
   * @param mark {@link mark} before the read was sent
   */
  keep(key: string, entry: CachedAnswer, mark: number): void {
    if (!this.live || mark !== this.#count) return;
    const size = entry.body.byteLength + 256;
    this.#lru.set(key, { entry, since: mark }, size);
  }

  /**
   * Notes a hit on `key` at `now`, counted in Redis with the next batch.
   *
   * @param key the entry key
   * @param now ms since the epoch
   */
  hit(key: string, now: number): void {
    const seen = this.#hits.get(key);
    if (seen) {
      seen.count++;
      seen.last = Math.max(seen.last, now);
    } else {
      this.#hits.set(key, { count: 1, last: now });
    }
  }

  /** Counts the hits noted so far in Redis; never rejects (a batch Redis refuses is lost). */
  async countHits(): Promise<void> {
    if (this.#hits.size === 0) return;
    const hits = this.#hits;
    this.#hits = new Map();
    const triples = [...hits].flatMap(([key, { count, last }]) => [key, `${count}`, `${last}`]);
    await this.#options.countHits(triples).catch(() => {});
  }

  /** Counts the pending hits, stops the heartbeat and closes the tracking connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#beat);
    clearInterval(this.#counter);
    this.#drop();
    await this.countHits();
  }

  #open(): void {
    if (this.#client || this.#closed) return;
    const now = performance.now();
    if (now - this.#openedAt < RETRY_EVERY_MS) return;
    this.#openedAt = now;
    const client = this.#client = this.#options.connect();
    client.on("error", () => this.#drop(client)); // never reconnected: tracking would be lost
    this.#track(client).catch(() => this.#drop(client));
  }

  async #track(client: TrackingClient): Promise<void> {
    const { prefix } = this.#options;
    await client.connect();
    const id = String(await client.sendCommand(["CLIENT", "ID"]));
    const prefixes = ["e:", "a:", "hb:"].flatMap((p) => ["PREFIX", `${prefix}${p}`]);
    await client.sendCommand(["CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST", ...prefixes]);
    await client.subscribe("__redis__:invalidate", (keys) => this.#invalidate(keys));
  }

  #drop(client = this.#client): void {
    if (!client || client !== this.#client) return;
    this.#client = undefined;
    this.#forget();
    client.destroy();
  }

  #forget(): void {
    this.#lru.clear();
    this.#changed.clear();
    this.#beatSeenAt = -Infinity;
  }

  #sendBeat(): void {
    if (this.#client) this.#options.send(["SET", this.#beatKey, "1", "PX", "5000"]).catch(() => {});
  }

  /** An invalidation message: the keys changed, or null when the whole database was flushed. */
  #invalidate(keys: unknown): void {
    const { prefix } = this.#options;
    if (!Array.isArray(keys)) {
      this.#count++;
      return this.#forget();
    }
    for (const raw of keys) {
      const key = String(raw);
      if (key === this.#beatKey) {
        const now = performance.now();
        // After a silence, messages may have been lost: start again from nothing.
        if (now - this.#beatSeenAt >= BEAT_TIMEOUT_MS) this.#forget();
        this.#beatSeenAt = now;
        continue;
      }
      if (key.startsWith(`${prefix}hb:`)) continue; // another instance's heartbeat
      this.#count++;
      if (key.startsWith(`${prefix}a:`)) this.#lru.delete(key.slice(prefix.length + 2));
      if (!key.startsWith(`${prefix}e:`)) continue;
      const entryKey = key.slice(prefix.length + 2);
      this.#lru.delete(entryKey);
      if (this.#changed.size >= MAX_REMEMBERED) this.#forget();
      this.#changed.set(entryKey, this.#count);
    }
  }
}
