/**
 * Cross-instance coalescing over Redis: the {@link FlightLocks} of a shared
 * store. A lock is one key set with `SET NX PX` to a random token; only the
 * token's owner can extend or delete it (Lua scripts compare first). The
 * holder publishes its answer on a stream named after its token
 * (`_redis_feed.ts`); an instance that finds the lock taken follows it, and
 * checks every poll interval that the holder still holds its lock: a dead
 * holder's lock simply expires.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { createClient } from "redis";
import { followAnswer, publishAnswer, type Send } from "./_redis_feed.ts";
import type { FlightLocks, HeldLock } from "./store.ts";

/** The key prefix when none is given; the Redis store uses the same one. */
export const DEFAULT_PREFIX = "llm-cache-proxy:";

// PEXPIRE only while the token matches; a lock that expired and that nobody took is taken back.
const EXTEND = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// DEL only while the token matches.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// Adds ARGV[1] to a count; a positive count lives ARGV[2] ms, a count back to zero goes.
const COUNT_READER = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n <= 0 then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

/** A reader's count outlives the reader this long if it dies without taking it back, in ms. */
const READERS_TTL_MS = 60_000;

/** A connection of the locks' own, to read a stream on: a duplicate of the client's. */
export interface ReaderClient {
  connect(): Promise<unknown>;
  sendCommand: LockClient["sendCommand"];
  on(event: "error", listener: (error: unknown) => void): unknown;
  destroy(): void;
}

/** What the locks need of a node-redis client (`createClient()` from npm `redis` fits). */
export interface LockClient {
  sendCommand(
    args: readonly (string | Buffer)[],
    options?: { readonly abortSignal?: AbortSignal; readonly typeMapping?: object },
  ): Promise<unknown>;
  duplicate(): ReaderClient;
}

/** Options of {@link RedisFlightLocks}. */
export interface RedisLocksOptions {
  /** Prefix of every key and channel. @default "llm-cache-proxy:" */
  readonly prefix?: string;
  /** How often a follower checks that the holder still holds its lock, in ms. @default 150 */
  readonly pollMs?: number;
  /** A Redis command that takes longer fails (acquire and follow reject). @default 500 */
  readonly commandTimeoutMs?: number;
}

type Run = Send;

/**
 * {@link FlightLocks} shared by every proxy instance on one Redis.
 *
 * @example
 * ```ts
 * const locks = new RedisFlightLocks(client); // a connected node-redis client
 * const lock = await locks.acquire(key, 10_000);
 * if (!lock) await locks.released(key, 10_000);
 * ```
 */
export class RedisFlightLocks implements FlightLocks {
  readonly #client: LockClient;
  readonly #owned: ReaderClient | undefined;
  readonly #prefix: string;
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  /** The connections of the answers being followed, closed by {@link close}. */
  readonly #readers = new Set<() => void>();
  #closed = false;

  /**
   * @param client a node-redis client (its owner connects and closes it), or a
   *   `redis://` URL to connect to (closed by {@link close})
   * @param options prefix, poll interval and command timeout
   */
  constructor(client: LockClient | string, options: RedisLocksOptions = {}) {
    if (typeof client === "string") {
      const own = createClient({ url: client });
      own.on("error", () => {}); // the store reports outages; here they only mean "fail open"
      own.connect().catch(() => {});
      this.#owned = own;
      this.#client = own;
    } else {
      this.#owned = undefined;
      this.#client = client;
    }
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#pollMs = options.pollMs ?? 150;
    this.#timeoutMs = options.commandTimeoutMs ?? 500;
  }

  /**
   * Takes the lock for `key` unless another instance holds it.
   *
   * @param key the cache key
   * @param ttlMs the lock expires this long after it was taken or last extended
   * @returns the held lock, or undefined when another instance holds it
   * @throws when Redis does not answer within the command timeout
   */
  async acquire(key: string, ttlMs: number): Promise<HeldLock | undefined> {
    const token = crypto.randomUUID();
    const lockKey = this.#lockKey(key);
    const run: Run = (args) => this.#run(args);
    let reply: unknown;
    try {
      reply = await run(["SET", lockKey, token, "NX", "PX", String(ttlMs)]);
    } catch (error) {
      // The SET may have landed before the timeout: leave no lock that nobody releases.
      releaseLock(run, lockKey, token).catch(() => {});
      throw error;
    }
    if (reply !== "OK") return undefined;
    return new RedisHeldLock(run, { lockKey, token, ttlMs, feed: this.#feedKey(token) });
  }

  /**
   * The answer the holder of `key`'s lock is publishing, once its head is
   * there; read on a connection of its own, closed when the body ends.
   *
   * @param key the cache key
   * @param signal stops reading: the body breaks off
   * @returns the answer, or undefined when nobody holds the lock or its holder went before its head
   * @throws when Redis cannot be reached
   */
  async follow(key: string, signal: AbortSignal): Promise<Response | undefined> {
    const lockKey = this.#lockKey(key);
    const token = await this.#run(["GET", lockKey]);
    if (typeof token !== "string" || this.#closed) return undefined;
    const reader = this.#client.duplicate();
    reader.on("error", () => {}); // a broken connection fails the read, which says so
    const closed = new AbortController();
    // Counted while reading, so that the holder keeps its upstream call for this reader.
    const readers = `${this.#feedKey(token)}:readers`;
    const counted = this.#run(["EVAL", COUNT_READER, "1", readers, "1", String(READERS_TTL_MS)]);
    const close = () => {
      if (closed.signal.aborted) return;
      this.#readers.delete(close);
      closed.abort();
      reader.destroy();
      counted.then(() => this.#run(["EVAL", COUNT_READER, "1", readers, "-1", "0"])).catch(
        () => {},
      );
    };
    this.#readers.add(close);
    try {
      await withTimeout(() => reader.connect(), { ms: this.#timeoutMs, what: "a connection" });
    } catch (e) {
      close();
      throw e;
    }
    const source = {
      // A blocking read that outlasts its block by a command timeout is on a dead connection.
      send: (args: readonly (string | Buffer)[], options?: object) =>
        withTimeout(
          (timedOut) =>
            reader.sendCommand(args, {
              ...options,
              abortSignal: AbortSignal.any([closed.signal, timedOut]),
            }),
          { ms: this.#pollMs + this.#timeoutMs, what: String(args[0]) },
        ),
      close,
      alive: () => this.#run(["GET", lockKey]).then((v) => v === token, () => false),
      pollMs: this.#pollMs,
    };
    try {
      await counted;
    } catch (e) {
      close();
      throw e;
    }
    return await followAnswer(source, this.#feedKey(token), signal);
  }

  /** Breaks off every answer being followed, and closes the client this created from a URL. */
  close(): Promise<void> {
    this.#closed = true;
    for (const close of [...this.#readers]) close();
    this.#owned?.destroy();
    return Promise.resolve();
  }

  #lockKey(key: string): string {
    return `${this.#prefix}lock:${key}`;
  }

  #feedKey(token: string): string {
    return `${this.#prefix}feed:${token}`;
  }

  #run(args: readonly (string | Buffer)[]): Promise<unknown> {
    return withTimeout((abortSignal) => this.#client.sendCommand(args, { abortSignal }), {
      ms: this.#timeoutMs,
      what: String(args[0] ?? ""),
    });
  }
}

/** Where a held lock lives and where its answer is published. */
interface LockPlace {
  readonly lockKey: string;
  readonly token: string;
  readonly ttlMs: number;
  /** The stream the holder's answer is published on. */
  readonly feed: string;
}

/** A lock this instance holds in Redis. */
class RedisHeldLock implements HeldLock {
  readonly #run: Run;
  readonly #place: LockPlace;
  #released: Promise<void> | undefined;

  /**
   * @param run sends one command to Redis
   * @param place the lock's key, token, TTL and release channel
   */
  constructor(run: Run, place: LockPlace) {
    this.#run = run;
    this.#place = place;
  }

  /**
   * Keeps the lock for another full TTL; takes it back if it expired and
   * nobody else took it.
   *
   * Does nothing once released, or when another instance holds the lock now.
   *
   * @throws when Redis does not answer
   */
  async extend(): Promise<void> {
    if (this.#released) return;
    const { lockKey, token, ttlMs } = this.#place;
    await this.#run(["EVAL", EXTEND, "1", lockKey, token, String(ttlMs)]);
  }

  /**
   * The same answer, published as it passes for instances waiting on this key.
   *
   * @param answer the upstream answer
   * @returns an answer with the same status, headers and bytes
   */
  publish(answer: Response): Response {
    return publishAnswer(this.#run, this.#place.feed, answer);
  }

  /** Whether another instance is reading the answer this holder publishes; false when unknown. */
  async followed(): Promise<boolean> {
    const count = await this.#run(["GET", `${this.#place.feed}:readers`]).catch(() => null);
    return Number(count ?? 0) > 0;
  }

  /** Deletes the lock if it is still ours; never rejects. Idempotent. */
  release(): Promise<void> {
    const { lockKey, token } = this.#place;
    return this.#released ??= releaseLock(this.#run, lockKey, token).then(() => {}, () => {});
  }
}

function releaseLock(run: Run, lockKey: string, token: string): Promise<unknown> {
  return run(["EVAL", RELEASE, "1", lockKey, token]);
}

/** Runs `task` with an abort signal; rejects (and aborts it) after `ms`. */
async function withTimeout<T>(
  task: (signal: AbortSignal) => Promise<T>,
  { ms, what }: { readonly ms: number; readonly what: string },
): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`Cannot reach Redis: no answer to ${what} within ${ms} ms`));
      controller.abort(); // after the reject, so the race settles with the error above
    }, ms);
  });
  try {
    return await Promise.race([task(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
