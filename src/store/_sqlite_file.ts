/**
 * The SQLite store's connection to its file: write transactions whose failure
 * says what went wrong (not ROLLBACK's "no transaction is active"), reads whose
 * failures say the same, each kind logged once, and a new file opened when
 * `cache.db` is deleted or replaced under the open connection. Private to
 * `src/store/`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "../log.ts";
import {
  fileIdentity,
  openDatabase,
  prepareStatements,
  type Statements,
} from "./_sqlite_schema.ts";
import { ProblemLog, storageError } from "./storage_error.ts";

const SIDECARS = ["-wal", "-shm"] as const;

/** One open database file and its prepared statements. */
export class SqliteFile {
  /** The database path, or `:memory:`. */
  readonly path: string;
  /** Runs after a new file was opened in place of a deleted or replaced one; true if it restored something worth saying. */
  onReplaced: () => boolean = () => false;
  #db: DatabaseSync;
  #sql: Statements;
  /** Which file the connection has open; see {@link SqliteFile.check}. */
  #identity: string | undefined;
  /** Which `-wal` and `-shm` files it has open: left behind, they must not meet a new file. */
  #sidecars: (string | undefined)[] = [];
  #log: Logger | undefined;
  #problems: ProblemLog;

  private constructor(path: string, db: DatabaseSync, log: Logger | undefined) {
    this.path = path;
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#remember();
    this.#log = log;
    this.#problems = new ProblemLog(log);
  }

  /**
   * Opens (creating if needed) the database at `path`.
   *
   * @param path a file path or `:memory:`
   * @param log where failures are logged, once per kind
   * @returns the open file
   * @throws a `StorageError` when the file is corrupt, read-only or on a full disk
   */
  static open(path: string, log: Logger | undefined): SqliteFile {
    try {
      return new SqliteFile(path, openDatabase(path), log);
    } catch (e) {
      throw storageError(e, path);
    }
  }

  /** The connection (replaced when the file is). */
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
    this.read(() => this.#db.exec("BEGIN IMMEDIATE"));
    try {
      const result = work();
      this.#db.exec("COMMIT");
      this.#problems.recovered();
      return result;
    } catch (e) {
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        undo();
      } catch {
        // The file cannot be read either: the first error says why.
      }
      throw this.#problems.report(storageError(e, this.path));
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
      throw this.#problems.report(storageError(e, this.path));
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
    this.#db.close();
    this.#forgetSidecars();
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
    const restored = this.read(() => this.onReplaced());
    this.#log?.error(
      `Cache database ${this.path} was ${found === undefined ? "deleted" : "replaced"} ` +
        `while the proxy was running: now using ${
          found === undefined ? "a new, empty one" : "the new file"
        } there` + (restored ? "; the all-time stats were written back into it" : ""),
    );
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
    this.#db.close();
  }
}
