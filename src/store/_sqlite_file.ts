/**
 * The SQLite store's connection to its file: write transactions whose failure
 * says what went wrong (not ROLLBACK's "no transaction is active"), reads whose
 * failures say the same, each kind logged once, and a new file opened when
 * `cache.db` is deleted or replaced under the open connection, or (when asked)
 * when it turns out to be corrupt, at start or later. Private to `src/store/`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "../log.ts";
import { openDatabase, prepareStatements, type Statements } from "./_sqlite_schema.ts";
import { fileIdentity, setAside } from "./_sqlite_place.ts";
import { ProblemLog, problemOf, StorageError, storageError } from "./storage_error.ts";
import { Checkpoints } from "./_sqlite_checkpoints.ts";

/** Options of {@link SqliteFile.open}. */
export interface SqliteFileOptions {
  /** Where failures are logged, once per kind. */
  readonly log?: Logger | undefined;
  /** Move a corrupt file aside and start a fresh one (the proxy) instead of failing (commands). */
  readonly setAsideCorrupt?: boolean | undefined;
  /** Names a file set aside. @default Date.now */
  readonly now?: (() => number) | undefined;
  /**
   * Copy the WAL into the file from a worker thread too, so that the
   * checkpoints inside commits find little left to copy (the proxy; a short
   * command does not need a thread). @default false
   */
  readonly checkpointInBackground?: boolean | undefined;
}

const SIDECARS = ["-wal", "-shm"] as const;

/** One open database file and its prepared statements. */
export class SqliteFile {
  /** The database path, or `:memory:`. */
  readonly path: string;
  /** Runs once a new file is open in place of a deleted, replaced or corrupt one. */
  onReplaced: () => void = () => {};
  #db: DatabaseSync;
  #sql: Statements;
  /** Which file the connection has open; see {@link SqliteFile.check}. */
  #identity: string | undefined;
  /** Which `-wal` and `-shm` files it has open: left behind, they must not meet a new file. */
  #sidecars: (string | undefined)[] = [];
  #log: Logger | undefined;
  #problems: ProblemLog;
  #setAsideCorrupt: boolean;
  #now: () => number;
  /** The all-time counters as last read plus what was added since, to write into a new file. */
  #counters = new Map<string, number>();
  #checkpointInBackground: boolean;
  #checkpoints: Checkpoints | undefined;

  private constructor(path: string, db: DatabaseSync, options: SqliteFileOptions) {
    this.path = path;
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#remember();
    this.#log = options.log;
    this.#problems = new ProblemLog(options.log);
    this.#setAsideCorrupt = (options.setAsideCorrupt ?? false) && path !== ":memory:";
    this.#now = options.now ?? Date.now;
    this.#checkpointInBackground = (options.checkpointInBackground ?? false) &&
      path !== ":memory:";
    this.#helpCheckpoints();
  }

  /**
   * Sets up background checkpoints for the current connection, when asked
   * (the worker itself starts with the first write).
   */
  #helpCheckpoints(): void {
    this.#checkpoints = this.#checkpointInBackground
      ? new Checkpoints(this.#db, this.path, this.#log)
      : undefined;
  }

  /**
   * Opens (creating if needed) the database at `path`; a corrupt one is set
   * aside for a fresh one when `setAsideCorrupt`, with one error line.
   *
   * @param path a file path or `:memory:`
   * @param options the log, and what to do with a corrupt file
   * @returns the open file
   * @throws a `StorageError` when the file is corrupt (unless set aside), read-only or on a full disk
   */
  static open(path: string, options: SqliteFileOptions = {}): SqliteFile {
    try {
      return new SqliteFile(path, openDatabase(path), options);
    } catch (e) {
      const error = storageError(e, path);
      if (problemOf(error) !== "corrupt" || !options.setAsideCorrupt) throw error;
      const aside = setAside(path, new Date((options.now ?? Date.now)()));
      options.log?.error(corruptLine(path, error, aside, "all-time stats start again"));
      return new SqliteFile(path, openDatabase(path), options);
    }
  }

  /** False once closed. */
  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  /** The current connection: a new one after the file was replaced. */
  get db(): DatabaseSync {
    return this.#db;
  }

  /** The prepared statements of the current connection. */
  get sql(): Statements {
    return this.#sql;
  }

  /**
   * Runs `work` in one write transaction. On failure, `undo` runs after the
   * rollback (to take counts from the file again), and the error that caused
   * the failure is thrown: SQLite has often rolled back by itself already (a
   * full disk, an I/O error), so ROLLBACK's own error would hide why.
   *
   * @param work the writes
   * @param undo puts what `work` changed in memory back as the file has it
   * @returns what `work` returned
   */
  transaction<T>(work: () => T, undo: () => void): T {
    this.check();
    this.#checkpoints?.beforeWrite();
    this.read(() => this.#db.exec("BEGIN IMMEDIATE"));
    try {
      const result = work();
      this.#db.exec("COMMIT");
      this.#problems.recovered();
      this.#checkpoints?.afterWrite();
      return result;
    } catch (e) {
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        undo();
      } catch {
        // The file cannot be read either: the first error says why.
      }
      throw this.#failure(e);
    }
  }

  /**
   * Runs a read, turning a failure of the file into a `StorageError` (logged once).
   *
   * @param read the query
   * @returns what it returned
   */
  read<T>(read: () => T): T {
    try {
      return read();
    } catch (e) {
      throw this.#failure(e);
    }
  }

  /**
   * Adds to the ledger's counters, in one transaction.
   *
   * @param deltas what to add to each counter
   */
  addCounters(deltas: ReadonlyMap<string, number>): void {
    this.transaction(() => {
      for (const [name, value] of deltas) this.#sql.addCounter.run(name, value);
    }, () => {});
    for (const [name, value] of deltas) {
      this.#counters.set(name, (this.#counters.get(name) ?? 0) + value);
    }
  }

  /**
   * Reads the ledger's counters, and keeps them to write into a new file if this one goes.
   *
   * @returns every counter
   */
  readCounters(): Map<string, number> {
    const rows = this.read(() => this.#sql.counters.all());
    const counters = new Map(rows.map((r) => [String(r.name), Number(r.value)]));
    this.#counters = new Map(counters);
    return counters;
  }

  /**
   * The error to throw for `e`, logged once per kind. A corrupt file is first
   * set aside for a fresh one (when asked): the next call works again.
   */
  #failure(e: unknown): unknown {
    const error = storageError(e, this.path);
    if (!(error instanceof StorageError)) return error;
    this.#checkpoints?.pause(); // the file is in trouble: the plainest way until a write works
    if (error.problem !== "corrupt" || !this.#setAsideCorrupt) return this.#problems.report(error);
    try {
      this.#closeDb();
      const aside = setAside(this.path, new Date(this.#now()));
      const restored = this.#reopen();
      this.#log?.error(
        corruptLine(
          this.path,
          error,
          aside,
          restored ? "the all-time stats were kept" : "all-time stats start again",
        ),
      );
      error.reported = this.#log !== undefined;
      return error;
    } catch (again) {
      return this.#problems.report(storageError(again, this.path));
    }
  }

  /**
   * Opens a new file when `cache.db` was deleted or replaced since it was
   * opened: writes to the old one would go where nobody reads them again.
   * Costs one `stat`: run it before writes and on a timer, never on a hit.
   *
   * @throws a `StorageError` when no file can be opened there (it is tried again next time)
   */
  check(): void {
    if (this.path === ":memory:") return;
    const found = fileIdentity(this.path);
    if (found === this.#identity) return;
    this.#closeDb();
    this.#forgetSidecars();
    const restored = this.#reopen();
    this.#log?.error(
      `Cache database ${this.path} was ${found === undefined ? "deleted" : "replaced"} ` +
        `while the proxy was running: now using ${
          found === undefined ? "a new, empty one" : "the new file"
        } there` + (restored ? "; the all-time stats were written back into it" : ""),
    );
  }

  /**
   * Opens the file at `path` again after the old connection was closed.
   *
   * @returns whether the all-time counters were written back into it
   */
  #reopen(): boolean {
    try {
      this.#db = openDatabase(this.path);
    } catch (e) {
      this.#db = openDatabase(":memory:"); // stays usable, empty, until the file opens again
      this.#sql = prepareStatements(this.#db);
      this.onReplaced();
      throw this.#problems.report(storageError(e, this.path));
    }
    this.#sql = prepareStatements(this.#db);
    this.#remember();
    this.#helpCheckpoints();
    this.read(() => this.onReplaced());
    return this.read(() => this.#restoreCounters());
  }

  /** Writes the all-time counters into a new file that has none; true if it did. */
  #restoreCounters(): boolean {
    if (this.#counters.size === 0 || this.#sql.counters.all().length > 0) return false;
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const [name, value] of this.#counters) this.#sql.addCounter.run(name, value);
      this.#db.exec("COMMIT");
      return true;
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  #remember(): void {
    if (this.path === ":memory:") return;
    this.#identity = fileIdentity(this.path);
    this.#sidecars = SIDECARS.map((suffix) => fileIdentity(this.path + suffix));
  }

  /**
   * Removes the old file's `-wal` and `-shm`, which SQLite keeps when its file
   * was deleted or moved: a new `cache.db` would otherwise read the old WAL's
   * pages as its own. Ones that another connection made for the new file stay.
   */
  #forgetSidecars(): void {
    for (const [i, suffix] of SIDECARS.entries()) {
      const sidecar = this.path + suffix;
      if (this.#sidecars[i] === undefined || fileIdentity(sidecar) !== this.#sidecars[i]) continue;
      try {
        Deno.removeSync(sidecar);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }

  /** Closes the connection. */
  close(): void {
    if (this.#checkpoints) {
      this.#checkpoints.stop();
      // The worker's connection may outlive this one by a moment, and SQLite folds the WAL
      // into the file only when the last connection closes: fold it in now.
      try {
        this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } catch {
        // A full disk or a damaged file: the WAL stays, and is read on the next open.
      }
    }
    this.#closeDb();
  }

  /** Closes the connection and its worker (a file gone or set aside needs no last checkpoint). */
  #closeDb(): void {
    this.#checkpoints?.stop();
    this.#checkpoints = undefined;
    this.#db.close();
  }
}

/** The one line that says a corrupt file was set aside. */
function corruptLine(path: string, error: unknown, aside: string, stats: string): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return `Cache database ${path} is corrupt (${(cause as Error).message}): moved it aside to ` +
    `${aside} and started on a fresh, empty one${stats ? `; ${stats}` : ""}. Its answers are ` +
    `no longer served; delete the moved file once you do not need it`;
}
