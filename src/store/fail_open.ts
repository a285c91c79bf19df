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
 * The outage itself (state, probe, log lines) is tracked by `_store_outage.ts`.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { HistoryRow, Resolution } from "../values/history_row.ts";
import { guardLocks } from "./_fail_open_locks.ts";
import { messageOf, type OutageOptions, StoreOutage } from "./_store_outage.ts";
import type {
  CachedAnswer,
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

/** Options of {@link FailOpenStore}: probe interval and timeout, clock. */
export type FailOpenOptions = OutageOptions;

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
  #outage: StoreOutage;
  #lastCounters = new Map<string, number>();

  /**
   * @param inner the store to guard
   * @param log where the outage and recovery lines go
   * @param options probe interval and timeout, clock
   */
  constructor(inner: PingableStore, log: Logger, options: FailOpenOptions = {}) {
    this.#inner = inner;
    this.#log = log;
    this.#outage = new StoreOutage(() => inner.ping(), log, options);
    if (inner.locks) {
      this.locks = guardLocks(inner.locks, {
        must: (call) => this.#outage.must(call),
        tolerate: (call, fallback) => this.#outage.read(call, fallback),
        outage: () => this.#outage.begun(),
      });
    }
  }

  /**
   * Pings the store once, for start-up: when it does not answer, the wrapper
   * starts degraded (with its warning) instead of the proxy failing to start.
   *
   * @returns the state after the ping
   */
  check(): Promise<StoreHealth> {
    return this.#outage.check();
  }

  /** `degraded` from a failed call until a probe reaches the store again. */
  health(): StoreHealth {
    return this.#outage.health();
  }

  get(key: string): Promise<CachedAnswer | undefined> {
    return this.#outage.read(() => this.#inner.get(key), undefined);
  }

  getStale(key: string, graceMs: number): Promise<CachedAnswer | undefined> {
    return this.#outage.read(() => this.#inner.getStale(key, graceMs), undefined);
  }

  inspect(key: string): Promise<CacheEntry | undefined> {
    return this.#outage.read(() => this.#inner.inspect(key), undefined);
  }

  similar(query: Parameters<CacheStore["similar"]>[0]): Promise<SimilarRequest[]> {
    return this.#outage.read(() => this.#inner.similar(query), []);
  }

  list(options?: ListOptions): Promise<EntrySummary[]> {
    return this.#outage.read(() => this.#inner.list(options), []);
  }

  count(): Promise<number> {
    return this.#outage.read(() => this.#inner.count(), 0);
  }

  bytes(): Promise<number> {
    return this.#outage.read(() => this.#inner.bytes(), 0);
  }

  /** Dropped while the store is down: the next miss stores the answer again. */
  put(entry: NewEntry, aliases?: readonly string[]): Promise<void> {
    return this.#outage.read(() => this.#inner.put(entry, aliases), undefined);
  }

  delete(key: string): Promise<boolean> {
    return this.#outage.read(() => this.#inner.delete(key), false);
  }

  prune(olderThan: number): Promise<number> {
    return this.#outage.read(() => this.#inner.prune(olderThan), 0);
  }

  /**
   * Yields nothing while the store is down, like the other reads; a failure
   * after some entries were yielded rethrows, so an export is never silently cut short.
   */
  async *entries(
    options?: { readonly namespace?: string; readonly since?: number },
  ): AsyncIterable<StoredEntry> {
    if (this.#outage.health() === "degraded") return;
    const epoch = this.#outage.epoch;
    let yielded = false;
    try {
      for await (const entry of this.#inner.entries(options)) {
        yielded = true;
        yield entry;
      }
    } catch (e) {
      this.#outage.fail(e, epoch);
      if (yielded) throw e;
    }
  }

  /**
   * Rejects while the store is down (without trying it) instead of dropping
   * the deltas: the ledger keeps what a failed flush held and adds it again
   * on its next flush, so no count is lost to an outage.
   */
  addCounters(deltas: ReadonlyMap<string, number>): Promise<void> {
    return this.#outage.must(() => this.#inner.addCounters(deltas));
  }

  /**
   * While the store is down, answers the counters last read from it (empty
   * before the first read), so the ledger opens and keeps its all-time totals.
   */
  async readCounters(): Promise<Map<string, number>> {
    const counters = await this.#outage.read(() => this.#inner.readCounters(), undefined);
    if (!counters) return new Map(this.#lastCounters);
    this.#lastCounters = new Map(counters);
    return counters;
  }

  /** Rejects while the store is down, like {@link addCounters}: the history keeps the rows. */
  addHistory(
    rows: readonly HistoryRow[],
    dropBefore: Readonly<Record<Resolution, number>>,
  ): Promise<void> {
    return this.#outage.must(() => this.#inner.addHistory(rows, dropBefore));
  }

  /** While the store is down, no stored rows: the page shows what this process counted. */
  async readHistory(resolution: Resolution, since: number): Promise<HistoryRow[]> {
    return await this.#outage.read(() => this.#inner.readHistory(resolution, since), undefined) ??
      [];
  }

  /** Stops the probe and closes the inner store; a failure to close is logged, not thrown. */
  async close(): Promise<void> {
    const probing = this.#outage.stop();
    try {
      await this.#inner.close();
    } catch (e) {
      this.#log.error(`Cache store: could not close it cleanly (${messageOf(e)})`);
    }
    await probing;
  }

  /** Same as {@link FailOpenStore.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
