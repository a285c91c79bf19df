/**
 * The SQLite store's file: how it is created (private, WAL), its tables and
 * their later columns, the prepared statements, and rows turned into entries.
 * Private to `src/store/`.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { NO_USAGE } from "../values/usage.ts";
import type { CachedAnswer, CacheEntry } from "./store.ts";

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
  body BLOB NOT NULL,
  namespace TEXT NOT NULL DEFAULT '',
  timing TEXT NOT NULL DEFAULT '[]',
  request BLOB
);
CREATE INDEX IF NOT EXISTS entries_expires ON entries(expires_at);
-- Serves list() and entries(), newest first.
CREATE INDEX IF NOT EXISTS entries_created ON entries(created_at);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_key ON aliases(key);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;
`;

/** Columns added after the first schema, for files made before them. */
const ADDED_COLUMNS = {
  usage: "ALTER TABLE entries ADD COLUMN usage TEXT NOT NULL DEFAULT '{}'",
  snippet: "ALTER TABLE entries ADD COLUMN snippet TEXT NOT NULL DEFAULT ''",
  namespace: "ALTER TABLE entries ADD COLUMN namespace TEXT NOT NULL DEFAULT ''",
  timing: "ALTER TABLE entries ADD COLUMN timing TEXT NOT NULL DEFAULT '[]'",
  request: "ALTER TABLE entries ADD COLUMN request BLOB",
};

/** Indexes on added columns: made once the columns exist. */
const LATER_INDEXES = `
-- Serves similar(): one route, model and namespace, newest first.
CREATE INDEX IF NOT EXISTS entries_similar ON entries(path, model, namespace, created_at);
`;

/**
 * Hit times and counts live in a narrow table of their own: updating them in
 * \`entries\` rewrote each whole row, body and overflow pages included (~100 µs
 * for a 20 KB entry, against ~7 µs here), and a second of hits spread over
 * many entries rewrote most of the file. Triggers keep one row per entry
 * whoever writes \`entries\` (an older version of the proxy, a test, the bench).
 * The columns \`entries.last_hit_at\` and \`hit_count\` keep the values at put time.
 */
const HITS = `
CREATE TABLE IF NOT EXISTS hits (
  key TEXT PRIMARY KEY,
  last_hit_at INTEGER NOT NULL,
  hit_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Serves eviction: the least recently hit first.
CREATE INDEX IF NOT EXISTS hits_last_hit ON hits(last_hit_at);
CREATE TRIGGER IF NOT EXISTS entries_hits_insert AFTER INSERT ON entries BEGIN
  INSERT OR REPLACE INTO hits (key, last_hit_at, hit_count)
  VALUES (new.key, new.last_hit_at, new.hit_count);
END;
CREATE TRIGGER IF NOT EXISTS entries_hits_delete AFTER DELETE ON entries BEGIN
  DELETE FROM hits WHERE key = old.key;
END;
DROP INDEX IF EXISTS entries_last_hit;
`;

/**
 * The entry count and body bytes, kept by triggers so that start-up (and a
 * recount after another process wrote) reads two rows instead of scanning an
 * index of every entry (~35–180 ms at 1,000,000 entries). `INSERT OR REPLACE`
 * fires no delete trigger (recursive_triggers is off), so the replaced row is
 * taken off before the insert.
 */
const TOTALS = `
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS entries_totals_replace BEFORE INSERT ON entries
WHEN EXISTS (SELECT 1 FROM entries WHERE key = new.key) BEGIN
  UPDATE totals SET value = value - 1 WHERE name = 'entries';
  UPDATE totals SET value = value - (SELECT size FROM entries WHERE key = new.key)
  WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS entries_totals_insert AFTER INSERT ON entries BEGIN
  UPDATE totals SET value = value + 1 WHERE name = 'entries';
  UPDATE totals SET value = value + new.size WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS entries_totals_delete AFTER DELETE ON entries BEGIN
  UPDATE totals SET value = value - 1 WHERE name = 'entries';
  UPDATE totals SET value = value - old.size WHERE name = 'bytes';
END;
-- Only the old start-up count read it.
DROP INDEX IF EXISTS entries_size;
`;

const META = "key, status, content_type, model, path, created_at, expires_at, last_hit_at, " +
  "hit_count, size, usage, snippet, namespace, timing";

type Row = Record<string, SQLInputValue>;

/**
 * Opens the database at `path` (or `:memory:`), creating a private file and
 * its tables, and adding columns that older files lack.
 *
 * @param path the database file
 * @returns the open connection, in WAL mode
 */
export function openDatabase(path: string): DatabaseSync {
  if (path !== ":memory:") createPrivateFile(path);
  const db = new DatabaseSync(path);
  try {
    prepareFile(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

function prepareFile(db: DatabaseSync): void {
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
  db.exec(SCHEMA);
  const columns = new Set(
    db.prepare("PRAGMA table_info(entries)").all().map((c) => String(c.name)),
  );
  for (const [column, ddl] of Object.entries(ADDED_COLUMNS)) {
    if (!columns.has(column)) db.exec(ddl);
  }
  db.exec(LATER_INDEXES);
  addTable(
    db,
    "hits",
    HITS,
    "INSERT OR IGNORE INTO hits (key, last_hit_at, hit_count) " +
      "SELECT key, last_hit_at, hit_count FROM entries",
  );
  addTable(
    db,
    "totals",
    TOTALS,
    "INSERT INTO totals (name, value) " +
      "SELECT 'entries', count(*) FROM entries UNION ALL " +
      "SELECT 'bytes', coalesce(sum(size), 0) FROM entries",
  );
}

/**
 * Creates a table that derives from `entries` (and its triggers); a file made
 * before it gets it filled from `entries` by `fill`, once, in one transaction.
 */
function addTable(db: DatabaseSync, name: string, ddl: string, fill: string): void {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  if (exists.get(name) !== undefined) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    if (exists.get(name) === undefined) { // not made by another process meanwhile
      db.exec(ddl);
      db.exec(fill);
    }
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

/** Entry columns as read back: hit time and count from the hits table when it has them. */
const READ_META = META.split(", ").map((column) =>
  column === "last_hit_at" || column === "hit_count"
    ? `coalesce(h.${column}, e.${column}) AS ${column}`
    : `e.${column}`
).join(", ");
const WITH_HITS = "entries e LEFT JOIN hits h ON h.key = e.key";
/**
 * What a hit reads: the entry columns without hit time, count and size, and the
 * body. No hits row and no request: each is a B-tree lookup (and the request
 * often overflow pages) of its own on every hit of an entry not in memory.
 */
const ANSWER = [
  ...META.split(", ").filter((c) => c !== "last_hit_at" && c !== "hit_count" && c !== "size"),
  "body",
].map((column) => `e.${column}`).join(", ");

const SQL = {
  // By key, else by alias, in one statement: each statement is a read transaction of its own
  // (~2.5 µs of locking), and a miss asks both.
  get: `SELECT ${ANSWER} FROM entries e WHERE e.key = ?1 AND e.expires_at > ?2 UNION ALL ` +
    `SELECT ${ANSWER} FROM aliases a JOIN entries e ON e.key = a.key ` +
    "WHERE a.alias = ?1 AND e.expires_at > ?2 LIMIT 1",
  exists: "SELECT size FROM entries WHERE key = ?",
  inspect: `SELECT ${READ_META}, e.body, e.request FROM ${WITH_HITS} WHERE e.key = ?`,
  insert: `INSERT OR REPLACE INTO entries (${META}, body, request) ` +
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
  insertAlias: "INSERT OR REPLACE INTO aliases (alias, key) VALUES (?, ?)",
  touch: "UPDATE hits SET last_hit_at = ?, hit_count = hit_count + ? WHERE key = ?",
  oldest: "SELECT key FROM hits WHERE key != ? ORDER BY last_hit_at LIMIT ?",
  expired: "SELECT key FROM entries WHERE expires_at <= ?",
  delete: "DELETE FROM entries WHERE key = ?",
  deleteAliases: "DELETE FROM aliases WHERE key = ?",
  aliasesOf: "SELECT alias FROM aliases WHERE key = ?",
  list: `SELECT ${READ_META} FROM ${WITH_HITS} WHERE e.key >= ? AND e.key < ? ` +
    "AND (? = '' OR instr(lower(coalesce(e.model, '') || ' ' || e.snippet), lower(?)) > 0) " +
    "ORDER BY e.created_at DESC LIMIT ? OFFSET ?",
  // `model IS ?`: a NULL model matches a request without one, and still uses the index.
  similar: "SELECT key, request, created_at FROM entries " +
    // length() of a blob reads its size, never its overflow pages.
    "WHERE path = ? AND model IS ? AND namespace = ? AND length(request) <= ? " +
    "ORDER BY created_at DESC LIMIT ?",
  // One page of entries(), after the cursor (created_at, key) of the previous page's last row.
  page: "SELECT key, created_at FROM entries " +
    "WHERE (? IS NULL OR namespace = ?) AND created_at >= ? " +
    "AND created_at <= ? AND (created_at < ? OR key < ?) " +
    "ORDER BY created_at DESC, key DESC LIMIT ?",
  count: "SELECT (SELECT value FROM totals WHERE name = 'entries') AS n, " +
    "(SELECT value FROM totals WHERE name = 'bytes') AS bytes",
  addCounter: "INSERT INTO counters (name, value) VALUES (?, ?) " +
    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
  counters: "SELECT name, value FROM counters",
  dataVersion: "PRAGMA data_version",
};

/** The prepared statements, by name. */
export type Statements = { readonly [name in keyof typeof SQL]: StatementSync };

/**
 * Prepares every statement the store runs.
 *
 * @param db the connection
 * @returns the statements by name
 */
export function prepareStatements(db: DatabaseSync): Statements {
  const entries = Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)]);
  return Object.fromEntries(entries) as Statements;
}

/**
 * An entry's meta from a row without the body.
 *
 * @param row the row
 * @returns the meta
 */
export function toMeta(row: Row): Omit<CacheEntry, "body" | "request"> {
  return {
    ...answerMeta(row),
    lastHitAt: Number(row.last_hit_at),
    hitCount: Number(row.hit_count),
  };
}

/**
 * What a hit serves, from a row of the `get` statements.
 *
 * @param row the row
 * @returns the answer
 */
export function toAnswer(row: Row): CachedAnswer {
  return { ...answerMeta(row), body: row.body as Uint8Array };
}

function answerMeta(row: Row): Omit<CachedAnswer, "body"> {
  return {
    key: String(row.key),
    status: Number(row.status),
    contentType: String(row.content_type),
    model: row.model === null ? undefined : String(row.model),
    path: String(row.path),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usage: { ...NO_USAGE, ...JSON.parse(String(row.usage)) },
    snippet: String(row.snippet),
    namespace: String(row.namespace),
    timing: JSON.parse(String(row.timing)),
  };
}

/**
 * An entry from a row with its body and request.
 *
 * @param row the row
 * @returns the entry
 */
export function toEntry(row: Row): CacheEntry {
  return {
    ...toMeta(row),
    body: row.body as Uint8Array,
    request: row.request === null ? undefined : row.request as Uint8Array,
  };
}

/** Creates the folder (0700) and the database file (0600) before SQLite does. */
function createPrivateFile(path: string): void {
  const dir = path.slice(0, Math.max(path.lastIndexOf("/"), 0));
  if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  Deno.openSync(path, { create: true, write: true, mode: 0o600 }).close();
  if (Deno.build.os !== "windows") Deno.chmodSync(path, 0o600);
}
