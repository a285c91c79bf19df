/**
 * The embedded store: one SQLite file (`$CACHE_HOME/cache.db`) through
 * `node:sqlite`, in WAL mode so that a put is one atomic transaction and a
 * `kill -9` can never leave half an entry behind.
 *
 * Recently read entries are also kept in memory (the hot tier), so a repeat
 * hit costs a map lookup instead of a query. The tier is dropped whenever
 * `PRAGMA data_version` shows that another connection wrote to the file
 * (the CLI invalidating an entry, a second proxy); this connection's own
 * writes update it directly. Reads look at `data_version` at most once per
 * `syncEveryMs` (1 ms): the check costs ~2.5 µs, a tenth of a hit, and a
 * write by another process is seen within that millisecond.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { Lru } from "../lru.ts";
import { NO_USAGE } from "../stats/usage.ts";
import type { CacheEntry, CacheStore, EntrySummary, ListOptions, NewEntry } from "./store.ts";

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Entries kept before the least recently hit are evicted. */
  readonly maxEntries: number;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** How often batched hit times are written, in ms. @default 1000 */
  readonly flushEveryMs?: number;
  /** Memory for recently read entries, in bytes; 0 turns it off. @default 64 MiB */
  readonly hotBytes?: number;
  /** Reads notice other processes' writes after at most this many ms. @default 1 */
  readonly syncEveryMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  key TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  model TEXT,
  path TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_hit_at INTEGER NOT NULL,
  hit_count INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL,
  usage TEXT NOT NULL DEFAULT '{}',
  snippet TEXT NOT NULL DEFAULT '',
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_last_hit ON entries(last_hit_at);
CREATE INDEX IF NOT EXISTS entries_expires ON entries(expires_at);
-- Lets start-up total the bytes from a small index instead of scanning every row.
CREATE INDEX IF NOT EXISTS entries_size ON entries(size);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_key ON aliases(key);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;
`;

/** Columns added after the first schema, for files made before them. */
const ADDED_COLUMNS = {
  usage: "ALTER TABLE entries ADD COLUMN usage TEXT NOT NULL DEFAULT '{}'",
  snippet: "ALTER TABLE entries ADD COLUMN snippet TEXT NOT NULL DEFAULT ''",
};

const META = "key, status, content_type, model, path, created_at, expires_at, last_hit_at, " +
  "hit_count, size, usage, snippet";

type Row = Record<string, SQLInputValue>;

/** A {@link CacheStore} in one SQLite file. */
export class SqliteStore implements CacheStore {
  #db: DatabaseSync;
  #now: () => number;
  #maxEntries: number;
  #count: number;
  #bytes: number;
  #dataVersion: number;
  #pendingHits = new Map<string, { at: number; n: number }>();
  #hot: Lru<string, CacheEntry>;
  #syncEveryMs: number;
  #syncedAt = -Infinity;
  #flushTimer: ReturnType<typeof setInterval>;
  #sql: Statements;

  private constructor(db: DatabaseSync, options: SqliteStoreOptions) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries;
    this.#hot = new Lru(options.hotBytes ?? 64 * 1024 * 1024);
    this.#syncEveryMs = options.syncEveryMs ?? 1;
    this.#sql = prepareStatements(db);
    [this.#count, this.#bytes] = this.#countRows();
    this.#dataVersion = this.#readDataVersion();
    this.#flushTimer = setInterval(() => this.#flushHits(), options.flushEveryMs ?? 1000);
    Deno.unrefTimer(Number(this.#flushTimer));
  }

  /**
   * Opens (creating if needed) the store at `path`, a file path or `:memory:`.
   * A new file and its folder are made readable by the owner only.
   *
   * @param path where the database lives
   * @param options the entry cap and clock
   * @returns the open store
   */
  static open(path: string, options: SqliteStoreOptions): SqliteStore {
    if (path !== ":memory:") createPrivateFile(path);
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    db.exec(SCHEMA);
    const columns = new Set(
      db.prepare("PRAGMA table_info(entries)").all().map((c) => String(c.name)),
    );
    for (const [column, ddl] of Object.entries(ADDED_COLUMNS)) {
      if (!columns.has(column)) db.exec(ddl);
    }
    return new SqliteStore(db, options);
  }

  get(key: string): Promise<CacheEntry | undefined> {
    const now = this.#now();
    const tick = performance.now();
    if (tick - this.#syncedAt >= this.#syncEveryMs) {
      this.#syncedAt = tick;
      this.#syncWithOtherWriters();
    }
    let entry = this.#hot.get(key);
    if (entry === undefined) {
      const row = this.#sql.get.get(key, now) ?? this.#sql.getByAlias.get(key, now);
      if (!row) return Promise.resolve(undefined);
      entry = toEntry(row);
      this.#hot.set(key, entry, entry.body.byteLength + 256);
    } else if (entry.expiresAt <= now) {
      this.#hot.delete(key);
      return Promise.resolve(undefined);
    }
    const pending = this.#pendingHits.get(entry.key);
    if (pending) {
      pending.at = now;
      pending.n++;
    } else this.#pendingHits.set(entry.key, { at: now, n: 1 });
    return Promise.resolve(entry);
  }

  inspect(key: string): Promise<CacheEntry | undefined> {
    const row = this.#sql.inspect.get(key);
    return Promise.resolve(row ? toEntry(row) : undefined);
  }

  put(entry: NewEntry, aliases: readonly string[] = []): Promise<void> {
    this.#syncWithOtherWriters();
    for (const key of [entry.key, ...aliases]) this.#hot.delete(key);
    this.#transaction(() => {
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
        entry.body,
      );
      for (const alias of aliases) this.#sql.insertAlias.run(alias, entry.key);
      this.#evictOverCap(entry.key);
    });
    return Promise.resolve();
  }

  delete(key: string): Promise<boolean> {
    const removed = this.#transaction(() => this.#deleteEntry(key));
    return Promise.resolve(removed);
  }

  list(options: ListOptions = {}): Promise<EntrySummary[]> {
    const prefix = options.keyPrefix ?? "";
    const query = options.query ?? "";
    const rows = this.#sql.list.all(
      prefix,
      `${prefix}\uffff`,
      query,
      query,
      options.limit ?? 100,
      options.offset ?? 0,
    );
    return Promise.resolve(rows.map((row) => ({ ...toMeta(row), size: Number(row.size) })));
  }

  count(): Promise<number> {
    this.#syncWithOtherWriters();
    return Promise.resolve(this.#count);
  }

  bytes(): Promise<number> {
    this.#syncWithOtherWriters();
    return Promise.resolve(this.#bytes);
  }

  addCounters(deltas: ReadonlyMap<string, number>): Promise<void> {
    this.#transaction(() => {
      for (const [name, value] of deltas) this.#sql.addCounter.run(name, value);
    });
    return Promise.resolve();
  }

  readCounters(): Promise<Map<string, number>> {
    const rows = this.#sql.counters.all();
    return Promise.resolve(new Map(rows.map((r) => [String(r.name), Number(r.value)])));
  }

  prune(olderThan: number): Promise<number> {
    const expired = this.#sql.expired.all(olderThan).map((row) => String(row.key));
    this.#transaction(() => expired.forEach((key) => this.#deleteEntry(key)));
    return Promise.resolve(expired.length);
  }

  close(): Promise<void> {
    clearInterval(this.#flushTimer);
    this.#flushHits();
    this.#db.close();
    return Promise.resolve();
  }

  /** Writes batched hit times and counts: one transaction a second, never on the hit path. */
  #flushHits(): void {
    if (this.#pendingHits.size === 0) return;
    try {
      this.#transaction(() => this.#writeHits());
    } catch {
      // Hit times only steer eviction order; losing one batch is harmless.
    }
  }

  /** Writes pending hit times inside the caller's transaction. */
  #writeHits(): void {
    for (const [key, { at, n }] of this.#pendingHits) this.#sql.touch.run(at, n, key);
    this.#pendingHits.clear();
  }

  /** Evicts the least recently hit entries beyond the cap: O(excess · log n), no scan. */
  #evictOverCap(keep: string): void {
    const excess = this.#count - this.#maxEntries;
    if (excess <= 0) return;
    this.#writeHits();
    for (const row of this.#sql.oldest.all(keep, excess)) this.#deleteEntry(String(row.key));
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
    this.#pendingHits.delete(key);
    return removed;
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

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }
}

const SQL = {
  get: `SELECT ${META}, body FROM entries WHERE key = ? AND expires_at > ?`,
  getByAlias: `SELECT ${META.replace(/(^|, )/g, "$1e.")}, e.body FROM aliases a ` +
    `JOIN entries e ON e.key = a.key WHERE a.alias = ? AND e.expires_at > ?`,
  exists: "SELECT size FROM entries WHERE key = ?",
  inspect: `SELECT ${META}, body FROM entries WHERE key = ?`,
  insert:
    `INSERT OR REPLACE INTO entries (${META}, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
  insertAlias: "INSERT OR REPLACE INTO aliases (alias, key) VALUES (?, ?)",
  touch: "UPDATE entries SET last_hit_at = ?, hit_count = hit_count + ? WHERE key = ?",
  oldest: "SELECT key FROM entries WHERE key != ? ORDER BY last_hit_at LIMIT ?",
  expired: "SELECT key FROM entries WHERE expires_at <= ?",
  delete: "DELETE FROM entries WHERE key = ?",
  deleteAliases: "DELETE FROM aliases WHERE key = ?",
  aliasesOf: "SELECT alias FROM aliases WHERE key = ?",
  list: `SELECT ${META} FROM entries WHERE key >= ? AND key < ? ` +
    "AND (? = '' OR instr(lower(coalesce(model, '') || ' ' || snippet), lower(?)) > 0) " +
    "ORDER BY created_at DESC LIMIT ? OFFSET ?",
  count: "SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM entries",
  addCounter: "INSERT INTO counters (name, value) VALUES (?, ?) " +
    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
  counters: "SELECT name, value FROM counters",
  dataVersion: "PRAGMA data_version",
};

type Statements = { readonly [name in keyof typeof SQL]: StatementSync };

function prepareStatements(db: DatabaseSync): Statements {
  const entries = Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)]);
  return Object.fromEntries(entries) as Statements;
}

function toMeta(row: Row): Omit<CacheEntry, "body"> {
  return {
    key: String(row.key),
    status: Number(row.status),
    contentType: String(row.content_type),
    model: row.model === null ? undefined : String(row.model),
    path: String(row.path),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    lastHitAt: Number(row.last_hit_at),
    hitCount: Number(row.hit_count),
    usage: { ...NO_USAGE, ...JSON.parse(String(row.usage)) },
    snippet: String(row.snippet),
  };
}

function toEntry(row: Row): CacheEntry {
  return { ...toMeta(row), body: row.body as Uint8Array };
}

/** Creates the folder (0700) and the database file (0600) before SQLite does. */
function createPrivateFile(path: string): void {
  const dir = path.slice(0, Math.max(path.lastIndexOf("/"), 0));
  if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  Deno.openSync(path, { create: true, write: true, mode: 0o600 }).close();
  if (Deno.build.os !== "windows") Deno.chmodSync(path, 0o600);
}
