/**
 * What went wrong with the SQLite file, in words a user can act on: SQLite's
 * own messages ("database or disk is full", "file is not a database") name
 * neither the file nor what to do. The store logs each kind of failure once
 * (until a write works again), and marks the errors it has logged so that a
 * caller failing open need not log them once per request.
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** The kinds of storage failure the SQLite store tells apart. */
export type StorageProblem = "full" | "corrupt" | "read-only" | "busy" | "io";

/** A failure of the SQLite file, with what to do about it; `cause` is SQLite's error. */
export class StorageError extends Error {
  /** What kind of failure it is: the store reports each kind once, not once per call. */
  readonly problem: StorageProblem;
  /** True once the store has logged this kind of failure: callers log it at debug only. */
  reported = false;

  /**
   * @param problem the kind of failure
   * @param message what happened and what to do
   * @param cause SQLite's error
   */
  constructor(problem: StorageProblem, message: string, cause: unknown) {
    super(message, { cause });
    this.name = "StorageError";
    this.problem = problem;
  }
}

/**
 * SQLite's primary result codes and the text `sqlite3_errstr` gives them:
 * `node:sqlite` sets `errcode` on a statement's error but not on `exec`'s, so
 * the text is the only sign there.
 */
const PROBLEMS: readonly (readonly [StorageProblem, readonly number[], RegExp])[] = [
  ["full", [13], /database or disk is full|no space left/i],
  ["corrupt", [11, 26], /database disk image is malformed|file is not a database/i],
  ["read-only", [8], /readonly database|read-only file system/i],
  ["busy", [5, 6], /database is locked|database table is locked/i],
  ["io", [10], /disk I\/O error/i],
];

/**
 * Tells which storage failure `error` is.
 *
 * @param error what SQLite threw
 * @returns the kind, or undefined for an error that is not about the file (a bug, a bad query)
 */
export function problemOf(error: unknown): StorageProblem | undefined {
  if (error instanceof StorageError) return error.problem;
  if (!(error instanceof Error)) return undefined;
  const code = (error as { errcode?: unknown }).errcode;
  for (const [problem, codes, text] of PROBLEMS) {
    if (typeof code === "number" && codes.includes(code & 0xff)) return problem;
    if (text.test(error.message)) return problem;
  }
  return undefined;
}

/**
 * Turns a failure of the file at `path` into a {@link StorageError} that says
 * what happened and what to do; other errors are returned as they are.
 *
 * @param error what SQLite threw
 * @param path the database file (or `:memory:`)
 * @returns the error to throw
 */
export function storageError(error: unknown, path: string): unknown {
  const problem = problemOf(error);
  if (problem === undefined || error instanceof StorageError) return error;
  const detail = (error as Error).message;
  return new StorageError(problem, ADVICE[problem](path, folderOf(path), detail), error);
}

const ADVICE: Readonly<
  Record<StorageProblem, (path: string, dir: string, detail: string) => string>
> = {
  full: (path, dir, detail) =>
    `Disk full: cannot write the cache at ${path} (${detail}); free space on the disk that ` +
    `holds ${dir} (delete files you do not need there) or set CACHE_HOME to a folder on a ` +
    `disk with room; a lower CACHE_MAX_ENTRIES keeps the cache smaller from then on`,
  corrupt: (path, _dir, detail) =>
    `Database corrupt: the cache at ${path} cannot be read (${detail}); start (or restart) ` +
    `the proxy: it sets the file aside as ${basename(path)}.corrupt-<time> and starts a fresh one`,
  "read-only": (path, dir, detail) =>
    `Read-only: cannot write the cache at ${path} (${detail}); make ${dir} and the ` +
    `cache.db* files in it writable by this user, or set CACHE_HOME to a writable folder`,
  busy: (path, _dir, detail) =>
    `Locked: another process has held the cache at ${path} for more than 5 s (${detail}); ` +
    `let it finish or stop it (a second proxy, an llm-cache-proxy command, a backup tool)`,
  io: (path, dir, detail) =>
    `Disk error: cannot read or write the cache at ${path} (${detail}); check the disk ` +
    `that holds ${dir} (was it unmounted or removed?) and the system log`,
};

function folderOf(path: string): string {
  if (path === ":memory:") return "memory";
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? (slash === 0 ? "/" : ".") : path.slice(0, slash);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Logs each kind of storage failure once, and one line when writes work again. */
export class ProblemLog {
  #log: Logger | undefined;
  #reported = new Set<StorageProblem>();

  /** @param log where the lines go; without one nothing is logged and nothing is marked */
  constructor(log: Logger | undefined) {
    this.#log = log;
  }

  /**
   * Logs `error` at error level unless its kind was logged already.
   *
   * @param error the failure
   * @returns the same error, marked as reported
   */
  report<E>(error: E): E {
    if (!(error instanceof StorageError) || !this.#log) return error;
    if (!this.#reported.has(error.problem)) {
      this.#reported.add(error.problem);
      this.#log.error(error.message, { problem: error.problem });
    }
    error.reported = true;
    return error;
  }

  /** A write worked: the next failure of any kind is news again. */
  recovered(): void {
    if (this.#reported.size === 0) return;
    const kinds = [...this.#reported].join(", ");
    this.#reported.clear();
    this.#log?.info(`Cache writes work again (after: ${kinds})`);
  }
}
