/**
 * The seam between the proxy and where responses are kept. Backends (the
 * embedded SQLite file, later Redis) implement {@link CacheStore}; nothing
 * above this seam knows how or where bytes are stored.
 *
 * @module
 */
import type { CounterStore } from "../stats/ledger.ts";
import type { Usage } from "../stats/usage.ts";

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
}

/** A response to store: its exact bytes plus meta. */
export interface NewEntry extends EntryMeta {
  /** SHA-256 hex cache key. */
  readonly key: string;
  /** The response body exactly as received from upstream. */
  readonly body: Uint8Array;
}

/** A stored response as read back. */
export interface CacheEntry extends NewEntry {
  /** Last time the entry was served (ms since the epoch); starts at `createdAt`. */
  readonly lastHitAt: number;
  /** Times the entry was served from the cache. */
  readonly hitCount: number;
}

/** An entry without its body, for listings. */
export type EntrySummary = Omit<CacheEntry, "body"> & { readonly size: number };

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

/**
 * Where cached responses live. Every method may throw when the backend is
 * broken; callers fail open (treat a failed read as a miss, log a failed write).
 */
export interface CacheStore extends CounterStore {
  /**
   * Reads a fresh entry by its key or by one of its aliases and counts it as a hit.
   * An expired entry is not returned.
   */
  get(key: string): Promise<CacheEntry | undefined>;
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
}
