/**
 * The dashboard's history in the SQLite file: one row per resolution, start,
 * kind, model and namespace, its latency histogram as a JSON array. Private to
 * `src/store/`; {@link SqliteStore} delegates its `HistoryStore` methods here.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { CallKind } from "../values/call_kind.ts";
import type { HistoryRow, Resolution } from "../values/history_row.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS history (
  resolution TEXT NOT NULL,
  start INTEGER NOT NULL,
  kind TEXT NOT NULL,
  model TEXT NOT NULL,
  namespace TEXT NOT NULL,
  calls REAL NOT NULL,
  tokens REAL NOT NULL,
  usd REAL NOT NULL,
  ms REAL NOT NULL,
  latency TEXT NOT NULL,
  PRIMARY KEY (resolution, start, kind, model, namespace)
) WITHOUT ROWID;
`;

const SQL = {
  find: "SELECT calls, tokens, usd, ms, latency FROM history " +
    "WHERE resolution = ? AND start = ? AND kind = ? AND model = ? AND namespace = ?",
  put: "INSERT OR REPLACE INTO history " +
    "(resolution, start, kind, model, namespace, calls, tokens, usd, ms, latency) " +
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  drop: "DELETE FROM history WHERE resolution = ? AND start < ?",
  read: "SELECT resolution, start, kind, model, namespace, calls, tokens, usd, ms, latency " +
    "FROM history WHERE resolution = ? AND start >= ?",
};

type Statements = { readonly [name in keyof typeof SQL]: StatementSync };

/** The history table of one SQLite connection. */
export class SqliteHistory {
  #db: DatabaseSync;
  #sql: Statements;

  /** Creates the table if the file has none. @param db the store's connection */
  constructor(db: DatabaseSync) {
    db.exec(SCHEMA);
    this.#db = db;
    const prepared = Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)]);
    this.#sql = Object.fromEntries(prepared) as Statements;
  }

  /** The connection this history reads and writes. */
  get db(): DatabaseSync {
    return this.#db;
  }

  /**
   * Adds rows to the stored ones, then drops rows past their keeping time.
   * Run it inside a write transaction (`BEGIN IMMEDIATE`): reading, adding
   * and writing must keep another process's flush out meanwhile.
   */
  add(rows: readonly HistoryRow[], dropBefore: Readonly<Record<Resolution, number>>): void {
    for (const row of rows) this.#addRow(row);
    for (const [resolution, before] of Object.entries(dropBefore)) {
      this.#sql.drop.run(resolution, before);
    }
  }

  #addRow(row: HistoryRow): void {
    const dims = [row.resolution, row.start, row.kind, row.model, row.namespace] as const;
    const old = this.#sql.find.get(...dims);
    const latency = [...row.latency];
    if (old) {
      const stored = JSON.parse(String(old.latency)) as number[];
      stored.forEach((n, i) => latency[i] = (latency[i] ?? 0) + n);
    }
    this.#sql.put.run(
      ...dims,
      row.calls + Number(old?.calls ?? 0),
      row.tokens + Number(old?.tokens ?? 0),
      row.usd + Number(old?.usd ?? 0),
      row.ms + Number(old?.ms ?? 0),
      JSON.stringify(latency),
    );
  }

  /** The rows of one resolution that started at or after `since`. */
  read(resolution: Resolution, since: number): HistoryRow[] {
    return this.#sql.read.all(resolution, since).map((r) => ({
      resolution: String(r.resolution) as Resolution,
      start: Number(r.start),
      kind: String(r.kind) as CallKind,
      model: String(r.model),
      namespace: String(r.namespace),
      calls: Number(r.calls),
      tokens: Number(r.tokens),
      usd: Number(r.usd),
      ms: Number(r.ms),
      latency: JSON.parse(String(r.latency)),
    }));
  }
}
