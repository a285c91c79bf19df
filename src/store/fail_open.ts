/**
 * Fail open around a shared store (Redis): when the store cannot be reached,
 * the proxy keeps serving straight from Anthropic instead of failing calls.
 *
 * The first failing call switches {@link FailOpenStore} to `degraded` and logs
 * one warning for the whole outage. While degraded no call touches the inner
 * store, so no request waits on a dead connection: reads answer "nothing",
 * writes are dropped, and a background probe pings the store every
 * `probeEveryMs`. When a ping answers, the wrapper is `ok` again and logs one
 * line. The ledger's counters and the flight locks are not cache, so their
 * calls reject instead (see {@link FailOpenStore.addCounters} and `locks`).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { HistoryRow, Resolution } from "../values/history_row.ts";
import { guardLocks } from "./_fail_open_locks.ts";
import type {
  CacheEntry,
  CacheStore,
  EntrySummary,
  FlightLocks,
  ListOptions,
  NewEntry,
  SimilarRequest,
  StoredEntry,
  StoreHealth,
} from "./store.ts";

/** A store that can be asked whether it is reachable. */
export type PingableStore = CacheStore & {
  /** Resolves when the backend answers; rejects while it is down. */
  ping(): Promise<void>;
};

/** Options of {@link FailOpenStore}. */
export interface FailOpenOptions {
  /** How often a degraded store is pinged, in ms. @default 1000 */
  readonly probeEveryMs?: number;
  /** A ping that has not answered after this many ms counts as failed. @default 2000 */
  readonly probeTimeoutMs?: number;
  /** Clock in ms since the epoch, for the length of an outage. @default Date.now */
  readonly now?: () => number;
}

/** Rejects a call that was not tried because the store is down. */
export class StoreUnavailableError extends Error {
  /** @param cause the error that began the outage */
  constructor(cause: unknown) {
    super("Cache store is unreachable: the call was skipped until it is back", { cause });
    this.name = "StoreUnavailableError";
  }
}

/**
 * A {@link CacheStore} that stays usable while the one it wraps is down.
 *
 * @example
 * ```ts
 * const store = new FailOpenStore(await RedisStore.open(url), log);
 * await store.check(); // start serving even when Redis is down
 * store.health(); // "ok" | "degraded"
 * ```
 */
export class FailOpenStore implements CacheStore, AsyncDisposable {
  /** The inner store's locks, failing fast while it is down; absent when it has none. */
  readonly locks?: FlightLocks;
  #inner: PingableStore;
  #log: Logger;
  #probeEveryMs: number;
  #probeTimeoutMs: number;
  #now: () => number;
  #state: StoreHealth = "ok";
  /** Bumped at every recovery: a late failure of a call begun before it is not a new outage. */
  #epoch = 0;
  #downSince = 0;
  #cause: unknown;
  #outage = Promise.withResolvers<void>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #probing: Promise<boolean> | undefined;
  #closed = false;
  #lastCounters = new Map<string, number>();

  /**
   * @param inner the store to guard
   * @param log where the outage and recovery lines go
   * @param options probe interval and timeout, clock
   */
  constructor(inner: PingableStore, log: Logger, options: FailOpenOptions = {}) {
    this.#inner = inner;
    this.#log = log;
    this.#probeEveryMs = options.probeEveryMs ?? 1000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    this.#now = options.now ?? Date.now;
    if (inner.locks) {
      this.locks = guardLocks(inner.locks, {
        must: (call) => this.#must(call),
        tolerate: (call, fallback) => this.#read(call, fallback),
        outage: () => this.#outage.promise,
      });
    }
  }

  /**
   * Pings the store once, for start-up: when it does not answer, the wrapper
   * starts degraded (with its warning) instead of the proxy failing to start.
   *
   * @returns the state after the ping
   */
  async check(): Promise<StoreHealth> {
    if (this.#state === "degraded") return this.#state;
    const epoch = this.#epoch;
    try {
      await this.#ping();
    } catch (e) {
      this.#fail(e, epoch);
    }
    return this.#state;
  }

  /** `degraded` from a failed call until a probe reaches the store again. */
  health(): StoreHealth {
    return this.#state;
  }

  get(key: string): Promise<CacheEntry | undefined> {
    return this.#read(() => this.#inner.get(key), undefined);
  }

  getStale(key: string, graceMs: number): Promise<CacheEntry | undefined> {
    return this.#read(() => this.#inner.getStale(key, graceMs), undefined);
  }

  inspect(key: string): Promise<CacheEntry | undefined> {
    return this.#read(() => this.#inner.inspect(key), undefined);
  }

  similar(query: Parameters<CacheStore["similar"]>[0]): Promise<SimilarRequest[]> {
    return this.#read(() => this.#inner.similar(query), []);
  }

  list(options?: ListOptions): Promise<EntrySummary[]> {
    return this.#read(() => this.#inner.list(options), []);
  }

  count(): Promise<number> {
    return this.#read(() => this.#inner.count(), 0);
  }

  bytes(): Promise<number> {
    return this.#read(() => this.#inner.bytes(), 0);
  }

  /** Dropped while the store is down: the next miss stores the answer again. */
  put(entry: NewEntry, aliases?: readonly string[]): Promise<void> {
    return this.#read(() => this.#inner.put(entry, aliases), undefined);
  }

  delete(key: string): Promise<boolean> {
    return this.#read(() => this.#inner.delete(key), false);
  }

  prune(olderThan: number): Promise<number> {
    return this.#read(() => this.#inner.prune(olderThan), 0);
  }

  /**
   * Yields nothing while the store is down, like the other reads; a failure
   * after some entries were yielded rethrows, so an export is never silently cut short.
   */
  async *entries(
    options?: { readonly namespace?: string; readonly since?: number },
  ): AsyncIterable<StoredEntry> {
    if (this.#state === "degraded") return;
    const epoch = this.#epoch;
    let yielded = false;
    try {
      for await (const entry of this.#inner.entries(options)) {
        yielded = true;
        yield entry;
      }
    } catch (e) {
      this.#fail(e, epoch);
      if (yielded) throw e;
    }
  }

  /**
   * Rejects while the store is down (without trying it) instead of dropping
   * the deltas: the ledger keeps what a failed flush held and adds it again
   * on its next flush, so no count is lost to an outage.
   */
  addCounters(deltas: ReadonlyMap<string, number>): Promise<void> {
    return this.#must(() => this.#inner.addCounters(deltas));
  }

  /**
   * While the store is down, answers the counters last read from it (empty
   * before the first read), so the ledger opens and keeps its all-time totals.
   */
  async readCounters(): Promise<Map<string, number>> {
    const counters = await this.#read(() => this.#inner.readCounters(), undefined);
    if (!counters) return new Map(this.#lastCounters);
    this.#lastCounters = new Map(counters);
    return counters;
  }

  /** Rejects while the store is down, like {@link addCounters}: the history keeps the rows. */
  addHistory(
    rows: readonly HistoryRow[],
    dropBefore: Readonly<Record<Resolution, number>>,
  ): Promise<void> {
    return this.#must(() => this.#inner.addHistory(rows, dropBefore));
  }

  /** While the store is down, no stored rows: the page shows what this process counted. */
  async readHistory(resolution: Resolution, since: number): Promise<HistoryRow[]> {
    return await this.#read(() => this.#inner.readHistory(resolution, since), undefined) ?? [];
  }

  /** Stops the probe and closes the inner store; a failure to close is logged, not thrown. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      await this.#inner.close();
    } catch (e) {
      this.#log.error(`Cache store: could not close it cleanly (${messageOf(e)})`);
    }
    await this.#probing;
  }

  /** Same as {@link FailOpenStore.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #read<T, F>(call: () => Promise<T>, fallback: F): Promise<T | F> {
    if (this.#state === "degraded") return fallback;
    const epoch = this.#epoch;
    try {
      return await call();
    } catch (e) {
      this.#fail(e, epoch);
      return fallback;
    }
  }

  async #must<T>(call: () => Promise<T>): Promise<T> {
    if (this.#state === "degraded") throw new StoreUnavailableError(this.#cause);
    const epoch = this.#epoch;
    try {
      return await call();
    } catch (e) {
      this.#fail(e, epoch);
      throw e;
    }
  }

  #fail(error: unknown, epoch: number): void {
    if (this.#closed || this.#state === "degraded" || epoch !== this.#epoch) return;
    this.#state = "degraded";
    this.#cause = error;
    this.#downSince = this.#now();
    this.#outage.resolve();
    this.#log.error(
      `Cache store unreachable (${messageOf(error)}): every call goes straight to Anthropic ` +
        `(x-cache: BYPASS) until it is back. Caching resumes on its own, without a restart, ` +
        `once the store answers (checked every ${this.#probeEveryMs / 1000} s)`,
      { error: messageOf(error) },
    );
    this.#scheduleProbe();
  }

  #recover(): void {
    const downMs = this.#now() - this.#downSince;
    this.#state = "ok";
    this.#epoch++;
    this.#cause = undefined;
    this.#outage = Promise.withResolvers<void>();
    this.#log.info(`Cache store is back: caching again after ${seconds(downMs)} s`, { downMs });
  }

  #scheduleProbe(): void {
    if (this.#closed) return;
    const timer = setTimeout(() => this.#probe(), this.#probeEveryMs);
    Deno.unrefTimer(Number(timer));
    this.#timer = timer;
  }

  async #probe(): Promise<void> {
    this.#timer = undefined;
    this.#probing = this.#ping().then(() => true, () => false);
    const up = await this.#probing;
    this.#probing = undefined;
    if (this.#closed) return;
    if (up) this.#recover();
    else this.#scheduleProbe();
  }

  /** One ping that counts as failed after `probeTimeoutMs`. */
  async #ping(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer to a ping in ${seconds(this.#probeTimeoutMs)} s`)),
        this.#probeTimeoutMs,
      );
    });
    try {
      await Promise.race([this.#inner.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
