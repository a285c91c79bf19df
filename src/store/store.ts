/**
 * The seam between the proxy and where responses are kept. Backends (the
 * embedded SQLite file, later Redis) implement {@link CacheStore}; nothing
 * above this seam knows how or where bytes are stored.
 *
 * @module
 */
import type { Usage } from "../values/usage.ts";
import type { HistoryRow, Resolution } from "../values/history_row.ts";

/** Where the history is kept (the cache store implements it, beside the ledger's counters). */
export interface HistoryStore {
  /**
   * Adds each row's figures to the stored row of the same resolution, start,
   * kind, model and namespace, atomically, and drops rows that started before
   * `dropBefore` of their resolution.
   */
  addHistory(
    rows: readonly HistoryRow[],
    dropBefore: Readonly<Record<Resolution, number>>,
  ): Promise<void>;
  /** The rows of one resolution that started at or after `since`, in no particular order. */
  readHistory(resolution: Resolution, since: number): Promise<HistoryRow[]>;
}

/** Where the ledger keeps its all-time counters (every cache store implements it). */
export interface CounterStore {
  /** Adds each delta to its named counter, atomically. */
  addCounters(deltas: ReadonlyMap<string, number>): Promise<void>;
  /** Every counter. */
  readCounters(): Promise<Map<string, number>>;
}

/** What is known about a stored response besides its bytes. */
export interface EntryMeta {
  /** HTTP status of the stored response (always 200 today). */
  readonly status: number;
  /** The upstream `content-type`, replayed as is. */
  readonly contentType: string;
  /** The `model` of the request, when it named one. */
  readonly model: string | undefined;
  /** Request path, e.g. `/v1/messages`. */
  readonly path: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** The entry is served until this time (ms since the epoch). */
  readonly expiresAt: number;
  /** Token usage of the original call: what each hit saves. */
  readonly usage: Usage;
  /** The first 80 characters of the answer text. */
  readonly snippet: string;
  /** The key space the entry was stored in (`x-cache-namespace`); `""` is the default one. */
  readonly namespace: string;
  /**
   * When the body's chunks arrived, for replay at the original pace: pairs of
   * [byte offset where a chunk ends, ms after the request was sent]. Empty when unknown.
   */
  readonly timing: readonly (readonly [number, number])[];
}

/** A response to store: its exact bytes plus meta. */
export interface NewEntry extends EntryMeta {
  /** SHA-256 hex cache key. */
  readonly key: string;
  /** The response body exactly as received from upstream. */
  readonly body: Uint8Array;
  /**
   * The request body that produced it (never its headers, so no credentials), kept to
   * explain later misses; undefined for entries stored without it.
   */
  readonly request: Uint8Array | undefined;
}

/** A stored response as read back. */
export interface CacheEntry extends NewEntry {
  /** Last time the entry was served (ms since the epoch); starts at `createdAt`. */
  readonly lastHitAt: number;
  /** Times the entry was served from the cache. */
  readonly hitCount: number;
}

/**
 * What a hit serves: a stored response without its request and hit counts,
 * which a hit has no use for and which cost a read of their own.
 */
export type CachedAnswer = Omit<CacheEntry, "request" | "lastHitAt" | "hitCount">;

/** An entry without its body and request, for listings. */
export type EntrySummary = Omit<CacheEntry, "body" | "request"> & { readonly size: number };

/** An entry with the alias keys that lead to it, as exported in a bundle. */
export interface StoredEntry extends CacheEntry {
  readonly aliases: readonly string[];
}

/** Which stored requests may explain a miss: same path, model and namespace. */
export interface SimilarQuery {
  readonly path: string;
  readonly model: string | undefined;
  readonly namespace: string;
  /** At most this many, newest first. */
  readonly limit: number;
  /** Leave out stored requests longer than this many bytes, without reading them. */
  readonly maxRequestBytes?: number;
}

/** A stored request of the same route and model, to explain a miss. */
export interface SimilarRequest {
  readonly key: string;
  readonly request: Uint8Array;
  readonly createdAt: number;
}

/** Options of {@link CacheStore.list}. */
export interface ListOptions {
  /** At most this many rows. @default 100 */
  readonly limit?: number;
  /** Rows to skip, newest first. @default 0 */
  readonly offset?: number;
  /** Only keys starting with this hex prefix. */
  readonly keyPrefix?: string;
  /** Only entries whose model or snippet contains this text (case-insensitive). */
  readonly query?: string;
}

/** A lock held by this instance; see {@link FlightLocks}. */
export interface HeldLock {
  /** Keeps the lock alive for another full TTL (call it while the upstream call runs). */
  extend(): Promise<void>;
  /** Gives the lock up. Idempotent. */
  release(): Promise<void>;
  /**
   * The same answer, also published as it passes, for instances waiting on
   * this key ({@link FlightLocks.follow}); never holds it back or fails it.
   */
  publish(answer: Response): Response;
  /** Whether another instance is reading what {@link publish} publishes; never rejects. */
  followed(): Promise<boolean>;
}

/**
 * Cross-instance coalescing: at most one instance calls upstream for a key at
 * a time. A lock expires on its own after its TTL, so a holder that dies
 * blocks the others for at most that long.
 */
export interface FlightLocks {
  /** Takes the lock for `key` unless another instance holds it. */
  acquire(key: string, ttlMs: number): Promise<HeldLock | undefined>;
  /**
   * The answer the holder of `key`'s lock publishes, streaming as it arrives
   * (every chunk so far first), once its head is there; undefined when nobody
   * holds the lock, or its holder went before its head. `signal` stops reading.
   */
  follow(key: string, signal: AbortSignal): Promise<Response | undefined>;
}

/** Whether a store can be used right now. */
export type StoreHealth = "ok" | "degraded";

/**
 * Where cached responses live. Every method may throw when the backend is
 * broken; callers fail open (treat a failed read as a miss, log a failed write).
 */
export interface CacheStore extends CounterStore, HistoryStore {
  /**
   * Reads a fresh entry by its key or by one of its aliases and counts it as a hit.
   * An expired entry is not returned.
   */
  get(key: string): Promise<CachedAnswer | undefined>;
  /**
   * Reads an entry by key or alias that expired less than `graceMs` ago (or is
   * still fresh) and counts it as a hit: what stale-if-error serves.
   */
  getStale(key: string, graceMs: number): Promise<CachedAnswer | undefined>;
  /**
   * Stored requests with this path, model and namespace, newest first, for
   * explaining a miss; only entries stored with their request.
   */
  similar(
    query: SimilarQuery,
  ): Promise<SimilarRequest[]>;
  /** Every entry with its aliases (bodies included), newest first, for export. */
  entries(
    options?: { readonly namespace?: string; readonly since?: number },
  ): AsyncIterable<StoredEntry>;
  /**
   * Stores an entry and its alias keys in one atomic step: after a crash either
   * all of it is there or none of it. Replaces an entry with the same key.
   */
  put(entry: NewEntry, aliases?: readonly string[]): Promise<void>;
  /** Reads an entry by its exact key, expired or not, without counting a hit (for browsing). */
  inspect(key: string): Promise<CacheEntry | undefined>;
  /** Deletes an entry and its aliases; true if it existed. */
  delete(key: string): Promise<boolean>;
  /** Lists entries without bodies, most recently created first. */
  list(options?: ListOptions): Promise<EntrySummary[]>;
  /** Number of stored entries, expired ones included until pruned. */
  count(): Promise<number>;
  /** Total body bytes of the stored entries. */
  bytes(): Promise<number>;
  /** Deletes entries that expired before `olderThan` (ms since the epoch); returns how many. */
  prune(olderThan: number): Promise<number>;
  /** Writes what is pending and releases the backend. */
  close(): Promise<void>;
  /**
   * `degraded` while the backend cannot be reached (a shared store that is
   * down): the proxy then bypasses the cache. A local store is always `ok`.
   */
  health?(): StoreHealth;
  /** Present on stores shared by several proxy instances. */
  readonly locks?: FlightLocks;
}
