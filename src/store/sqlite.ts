/**
 * The embedded store: one SQLite file (`$CACHE_HOME/cache.db`) through
 * `node:sqlite`, in WAL mode so that a put is atomic and a `kill -9` can
 * never leave half an entry behind. The puts of one event-loop turn share one
 * transaction (a burst of misses pays for one commit, not one each).
 *
 * Recently read entries are also kept in memory (the hot tier), so a repeat
 * hit costs a map lookup instead of a query. The tier is dropped whenever
 * `PRAGMA data_version` shows that another connection wrote to the file
 * (the CLI invalidating an entry, a second proxy); this connection's own
 * writes update it directly. A read answered from memory looks at
 * `data_version` first, at most once per `syncEveryMs` (1 ms): the check
 * costs ~2.5 µs warm, a tenth of a hit, and ~30 µs on a cold path, and a
 * write by another process is seen within that millisecond. A read of the
 * file needs no check, so a miss pays none.
 *
 * A hit writes nothing: hit times and counts wait in memory and are written
 * every 10 s, in slices (`_sqlite_hits.ts`); until then `inspect()`, `list()`
 * and eviction take them from memory. With `checkpointInBackground` (the
 * proxy), a worker copies the WAL into the file between commits
 * (`_sqlite_checkpoints.ts`).
 *
 * A failure of the file (disk full, corrupt, read-only, locked) is thrown as a
 * `StorageError` that says what to do, and logged once per kind; a
 * failed write leaves the counts as the file has them. A `cache.db` deleted
 * or replaced while the store is open is noticed before the next write (and
 * at least once a second): the store opens a new file there and writes the
 * all-time counters back into it. With `setAsideCorrupt` (the proxy), a file
 * found corrupt, at open or later, is moved aside the same way.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import type { Logger } from "../log.ts";
import { Lru } from "../lru.ts";
import type { HistoryRow, Resolution } from "../values/history_row.ts";
import { SqliteHistory } from "./_sqlite_history.ts";
import { SqliteFile } from "./_sqlite_file.ts";
import { MAX_PENDING_HITS, PendingHits } from "./_sqlite_hits.ts";
import { problemOf } from "./storage_error.ts";
import { type Statements, toAnswer, toEntry, toMeta } from "./_sqlite_schema.ts";
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

/** Keys read per query while {@link SqliteStore.entries} walks the store. */
const PAGE_ROWS = 256;
/** How often the store looks whether its file is still there, in ms. */
const CHECK_EVERY_MS = 1000;

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Entries kept before the least recently hit are evicted. */
  readonly maxEntries: number;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * How often hit times and counts, kept in memory meanwhile, are written, in
   * ms; sooner when {@link MAX_PENDING_HITS} entries have some. @default 10000
   */
  readonly flushEveryMs?: number;
  /** Memory for recently read entries, in bytes; 0 turns it off. @default 64 MiB */
  readonly hotBytes?: number;
  /** Reads notice other processes' writes after at most this many ms. @default 1 */
  readonly syncEveryMs?: number;
  /** Where failures of the file and its replacement are logged, once per kind. */
  readonly log?: Logger;
  /**
   * A file found corrupt (at open or later) is moved aside as `cache.db.corrupt-<time>`
   * and a fresh one takes its place; otherwise opening it fails. @default false
   */
  readonly setAsideCorrupt?: boolean;
  /**
   * Copy the WAL into the file from a worker thread too, so that the commits
   * of puts and hit times find little left to copy (the proxy). @default false
   */
  readonly checkpointInBackground?: boolean;
}

/** A put waiting for its batch. */
interface QueuedPut {
  readonly entry: NewEntry;
  readonly aliases: readonly string[];
  resolve(): void;
  reject(error: unknown): void;
}

/** A {@link CacheStore} in one SQLite file. */
export class SqliteStore implements CacheStore, AsyncDisposable {
  #file: SqliteFile;
  #now: () => number;
  #maxEntries: number;
  #count: number;
  #bytes: number;
  #dataVersion: number;
  #hits: PendingHits;
  #flushEveryMs: number;
  #flushedAt = performance.now();
  #hot: Lru<string, CachedAnswer>;
  #syncEveryMs: number;
  #syncedAt = -Infinity;
  #flushTimer: ReturnType<typeof setInterval>;
  #history: SqliteHistory | undefined;
  #queued: QueuedPut[] = [];
  #queueTimer: ReturnType<typeof setImmediate> | undefined;

  private constructor(file: SqliteFile, options: SqliteStoreOptions) {
    this.#file = file;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries;
    this.#hot = new Lru(options.hotBytes ?? 64 * 1024 * 1024);
    this.#syncEveryMs = options.syncEveryMs ?? 1;
    this.#hits = new PendingHits({
      transaction: (work) => this.#transaction(work),
      touch: (key, at, n) => this.#sql.touch.run(at, n, key),
      get isOpen() {
        return file.isOpen;
      },
    });
    [this.#count, this.#bytes] = file.read(() => this.#countRows());
    this.#dataVersion = this.#readDataVersion();
    file.onReplaced = () => this.#replaced();
    this.#flushEveryMs = options.flushEveryMs ?? 10_000;
    const tickMs = Math.min(CHECK_EVERY_MS, this.#flushEveryMs);
    this.#flushTimer = setInterval(() => this.#tick(), tickMs);
    Deno.unrefTimer(Number(this.#flushTimer));
  }

  /**
   * Opens (creating if needed) the store at `path`, a file path or `:memory:`.
   * A new file and its folder are made readable by the owner only.
   *
   * @param path where the database lives
   * @param options the entry cap and clock
   * @returns the open store
   * @throws a `StorageError` when the file is corrupt, read-only or on a full disk
   */
  static open(path: string, options: SqliteStoreOptions): SqliteStore {
    const file = SqliteFile.open(path, options);
    try {
      return new SqliteStore(file, options);
    } catch (e) {
      // Found corrupt by the first count, the file was set aside if asked: count the fresh one.
      if (options.setAsideCorrupt && problemOf(e) === "corrupt") {
        return new SqliteStore(file, options);
      }
      file.close();
      throw e;
    }
  }

  get(key: string): Promise<CachedAnswer | undefined> {
    try {
      return Promise.resolve(this.#get(key));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #get(key: string): CachedAnswer | undefined {
    if (this.#queued.length > 0) this.#writeQueued();
    const now = this.#now();
    let entry = this.#hot.get(key);
    // Only an answer from memory can be out of date: a read of the file never is.
    if (entry !== undefined && this.#syncDue()) entry = this.#hot.get(key);
    if (entry === undefined) {
      entry = this.#file.read(() => this.#read(key, now));
      if (!entry) return undefined;
      this.#hot.set(key, entry, entry.body.byteLength + 256);
    } else if (entry.expiresAt <= now) {
      this.#hot.delete(key);
      return undefined;
    }
    this.#hits.count(entry.key, now);
    return entry;
  }

  /** Reads the file directly: stale reads are rare (upstream failing), so no hot tier. */
  getStale(key: string, graceMs: number): Promise<CachedAnswer | undefined> {
    this.#writeQueued();
    return settle(() => {
      const now = this.#now();
      const entry = this.#file.read(() => this.#read(key, now - (graceMs > 0 ? graceMs : 0)));
      if (entry) this.#hits.count(entry.key, now);
      return entry;
    });
  }

  similar(
    query: SimilarQuery,
  ): Promise<SimilarRequest[]> {
    this.#writeQueued();
    const { path, model, namespace, limit } = query;
    const maxBytes = query.maxRequestBytes ?? Number.MAX_SAFE_INTEGER;
    const rows = this.#sql.similar.all(path, model ?? null, namespace, maxBytes, limit);
    return Promise.resolve(rows.map((row) => ({
      key: String(row.key),
      request: row.request as Uint8Array,
      createdAt: Number(row.created_at),
    })));
  }

  /**
   * Walks the store by pages of keys, each after the last row's (created_at,
   * key), reading one entry at a time: memory holds one body, however large
   * the store, and writes meanwhile neither repeat nor skip an entry that
   * stays put (one deleted meanwhile is skipped).
   */
  async *entries(
    options: { readonly namespace?: string; readonly since?: number } = {},
  ): AsyncGenerator<StoredEntry> {
    this.#writeQueued();
    const namespace = options.namespace ?? null;
    let cursor = { createdAt: Number.MAX_SAFE_INTEGER, key: "" };
    for (;;) {
      const rows = this.#sql.page.all(
        namespace,
        namespace,
        options.since ?? -Number.MAX_SAFE_INTEGER,
        cursor.createdAt,
        cursor.createdAt,
        cursor.key,
        PAGE_ROWS,
      );
      for (const page of rows) {
        const key = String(page.key);
        const row = this.#sql.inspect.get(key);
        if (!row) continue;
        const aliases = this.#sql.aliasesOf.all(key).map((a) => String(a.alias));
        yield { ...this.#hits.overlay(toEntry(row)), aliases };
      }
      const last = rows.at(-1);
      if (rows.length < PAGE_ROWS || !last) return;
      cursor = { createdAt: Number(last.created_at), key: String(last.key) };
    }
  }

  inspect(key: string): Promise<CacheEntry | undefined> {
    this.#writeQueued();
    return settle(() => {
      const row = this.#file.read(() => this.#sql.inspect.get(key));
      return row ? this.#hits.overlay(toEntry(row)) : undefined;
    });
  }

  /**
   * Queues the entry; the puts queued within one turn of the event loop are
   * written at its end in one transaction, which costs little more than one
   * put alone. Any other call on the store writes what is queued first, so
   * the order of calls is the order of effects.
   */
  put(entry: NewEntry, aliases: readonly string[] = []): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    if (this.#queued.push({ entry, aliases, resolve, reject }) === 1) {
      // Not setTimeout(0): Deno runs that 2 ms later, and a miss ends only once its put is done.
      this.#queueTimer = setImmediate(() => this.#writeQueued());
    }
    return promise;
  }

  /** Writes the queued puts together; after a failure, each alone, so each gets its own outcome. */
  #writeQueued(): void {
    const batch = this.#queued;
    if (batch.length === 0) return;
    this.#queued = [];
    clearImmediate(this.#queueTimer);
    try {
      this.#insert(batch);
      for (const put of batch) put.resolve();
    } catch (e) {
      if (batch.length === 1) return batch[0]!.reject(e);
      for (const put of batch) {
        try {
          this.#insert([put]);
          put.resolve();
        } catch (e) {
          put.reject(e);
        }
      }
    }
  }

  #insert(puts: readonly QueuedPut[]): void {
    this.#file.read(() => this.#syncWithOtherWriters());
    for (const { entry, aliases } of puts) {
      for (const key of [entry.key, ...aliases]) this.#hot.delete(key);
    }
    this.#transaction(() => {
      for (const { entry, aliases } of puts) {
        const old = this.#sql.exists.get(entry.key);
        if (old) this.#bytes -= Number(old.size);
        else this.#count++;
        this.#bytes += entry.body.byteLength;
        this.#sql.insert.run(
          entry.key,
          entry.status,
          entry.contentType,
          entry.model ?? null,
          entry.path,
          entry.createdAt,
          entry.expiresAt,
          entry.createdAt,
          entry.body.byteLength,
          JSON.stringify(entry.usage),
          entry.snippet,
          entry.namespace,
          JSON.stringify(entry.timing),
          entry.body,
          entry.request ?? null,
        );
        for (const alias of aliases) this.#sql.insertAlias.run(alias, entry.key);
        this.#evictOverCap(entry.key);
      }
    });
  }

  delete(key: string): Promise<boolean> {
    this.#writeQueued();
    return settle(() => {
      return this.#transaction(() => this.#deleteEntry(key));
    });
  }

  list(options: ListOptions = {}): Promise<EntrySummary[]> {
    this.#writeQueued();
    return settle(() => {
      const prefix = options.keyPrefix ?? "";
      const query = options.query ?? "";
      const rows = this.#file.read(() =>
        this.#sql.list.all(
          prefix,
          `${prefix}\uffff`,
          query,
          query,
          options.limit ?? 100,
          options.offset ?? 0,
        )
      );
      return rows.map((row) => this.#hits.overlay({ ...toMeta(row), size: Number(row.size) }));
    });
  }

  count(): Promise<number> {
    this.#writeQueued();
    return settle(() => {
      this.#file.read(() => this.#syncWithOtherWriters());
      return this.#count;
    });
  }

  bytes(): Promise<number> {
    this.#writeQueued();
    return settle(() => {
      this.#file.read(() => this.#syncWithOtherWriters());
      return this.#bytes;
    });
  }

  addCounters(deltas: ReadonlyMap<string, number>): Promise<void> {
    this.#writeQueued();
    return settle(() => this.#file.addCounters(deltas));
  }

  readCounters(): Promise<Map<string, number>> {
    this.#writeQueued();
    return settle(() => this.#file.readCounters());
  }

  addHistory(
    rows: readonly HistoryRow[],
    dropBefore: Readonly<Record<Resolution, number>>,
  ): Promise<void> {
    this.#writeQueued();
    return settle(() =>
      this.#file.transaction(() => this.#historyOf().add(rows, dropBefore), noop)
    );
  }

  readHistory(resolution: Resolution, since: number): Promise<HistoryRow[]> {
    this.#writeQueued();
    return settle(() => this.#file.read(() => this.#historyOf().read(resolution, since)));
  }

  /** The history of the current connection (a new one after the file was replaced). */
  #historyOf(): SqliteHistory {
    if (this.#history?.db !== this.#file.db) this.#history = new SqliteHistory(this.#file.db);
    return this.#history;
  }

  prune(olderThan: number): Promise<number> {
    this.#writeQueued();
    return settle(() => {
      const expired = this.#file.read(() => this.#sql.expired.all(olderThan)).map((row) =>
        String(row.key)
      );
      this.#transaction(() => expired.forEach((key) => this.#deleteEntry(key)));
      return expired.length;
    });
  }

  close(): Promise<void> {
    this.#writeQueued();
    clearInterval(this.#flushTimer);
    this.#hits.flush();
    this.#file.close();
    return Promise.resolve();
  }

  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A fresh entry by key, then by alias: one that expires after `after`. */
  #read(key: string, after: number): CachedAnswer | undefined {
    const row = this.#sql.get.get(key, after);
    return row ? toAnswer(row) : undefined;
  }

  /** Once a second: is the file still there, then the batched hit times when due. Never throws. */
  #tick(): void {
    try {
      this.#file.check();
    } catch {
      // Reported by the check; the next tick or write tries again.
    }
    const now = performance.now();
    if (now - this.#flushedAt >= this.#flushEveryMs || this.#hits.size >= MAX_PENDING_HITS) {
      this.#flushedAt = now;
      this.#hits.flushInSlices();
    }
  }

  /** Evicts the least recently hit entries beyond the cap: O(excess · log n), no scan. */
  #evictOverCap(keep: string): void {
    const excess = this.#count - this.#maxEntries;
    if (excess <= 0) return;
    for (const key of this.#leastRecentlyHit(keep, excess)) this.#deleteEntry(key);
  }

  /**
   * The `count` entries hit least recently, but `keep`. One among the oldest
   * in the file may have hits not written yet: those are written now (the
   * next flush would have), which moves it back, and the file is asked again.
   * Each pending hit is written once, so an eviction reads O(count + hits it
   * writes) rows, even when every entry has hits pending.
   */
  #leastRecentlyHit(keep: string, count: number): string[] {
    // The rows read grow after each round that wrote hits (up to 1,024 more than asked):
    // with every entry's hits pending, that is a few dozen queries rather than one per entry.
    for (let rows = count;; rows = Math.min(rows * 2, count + 1024)) {
      const keys = this.#sql.oldest.all(keep, rows).map((row) => String(row.key));
      let moved = false;
      for (const key of keys) moved = this.#hits.writeNow(key) || moved;
      if (!moved) return keys.slice(0, count);
    }
  }

  #deleteEntry(key: string): boolean {
    this.#hot.delete(key);
    for (const row of this.#sql.aliasesOf.all(key)) this.#hot.delete(String(row.alias));
    this.#sql.deleteAliases.run(key);
    const old = this.#sql.exists.get(key);
    const removed = Number(this.#sql.delete.run(key).changes) > 0;
    if (removed) {
      this.#count--;
      this.#bytes -= Number(old?.size ?? 0);
    }
    this.#hits.forget(key);
    return removed;
  }

  /** Whether `syncEveryMs` has passed since the last look at other writers; if so, looks now. */
  #syncDue(): boolean {
    const tick = performance.now();
    if (tick - this.#syncedAt < this.#syncEveryMs) return false;
    this.#syncedAt = tick;
    this.#file.read(() => this.#syncWithOtherWriters());
    return true;
  }

  /** Another process (the CLI, a second proxy) may have written: recount then. */
  #syncWithOtherWriters(): void {
    const version = this.#readDataVersion();
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.#hot.clear();
    [this.#count, this.#bytes] = this.#countRows();
  }

  #readDataVersion(): number {
    return Number(this.#sql.dataVersion.get()?.data_version);
  }

  #countRows(): [number, number] {
    const row = this.#sql.count.get();
    return [Number(row?.n ?? 0), Number(row?.bytes ?? 0)];
  }

  /** Runs `work` in one write transaction; after a failed one, counts again from the file. */
  #transaction<T>(work: () => T): T {
    // The work keeps #count and #bytes as it goes; what a failure undid, count again.
    return this.#file.transaction(work, () => [this.#count, this.#bytes] = this.#countRows());
  }

  /** A new file took the old one's place: nothing in memory describes it any more. */
  #replaced(): void {
    this.#hot.clear();
    this.#hits.clear();
    [this.#count, this.#bytes] = this.#countRows();
    this.#dataVersion = this.#readDataVersion();
  }

  get #sql(): Statements {
    return this.#file.sql;
  }
}

/** Runs `work` now; a failure becomes a rejection, as a caller of a promise expects, not a throw. */
function noop(): void {}

function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (e) {
    return Promise.reject(e);
  }
}
