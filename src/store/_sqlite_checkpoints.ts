/**
 * WAL checkpoints, mostly on a thread of their own (private to `src/store/`).
 * SQLite checkpoints inside the commit that takes the WAL past 1,000 pages,
 * and that commit copies every page not yet in the file: measured with hits
 * spread over 20,000 entries, one commit in three of the batched hit times
 * took 8–10 ms instead of ~1 ms, holding every request for that long (hit p99
 * 12 ms instead of 2 ms); the time goes into copying pages (~10 µs each), not
 * into fsync.
 *
 * A worker with a second connection copies the WAL into the file every few
 * ms (a PASSIVE checkpoint, which holds no writer up), so a commit's own
 * checkpoint finds only the pages the worker has not reached yet. Those
 * checkpoints stay, 8 times rarer than SQLite's default (a WAL of up to 32
 * MiB): only a checkpoint between two commits of the writing connection lets
 * the WAL start over. (Leaving all of it to the worker was tried: under a
 * steady stream of writes the WAL never started over and grew to a gigabyte
 * in a minute.) Measured on the spread hits: commits that checkpoint took 5–6
 * ms instead of 8–10, and came 8 times less often (hit p99 3.4–3.6 ms in a
 * second with a flush of hit times, 12 ms before).
 *
 * The worker starts with the first write: starting one holds the thread ~10
 * ms, which a start-up, or a proxy that only replays, need not pay. Should the
 * file fail (a full disk, a lock), the worker ends until a write succeeds
 * again; should the worker itself fail, it is said once and not tried again.
 * Meanwhile the commits copy the whole WAL as before: slower, never stuck.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "../log.ts";

/**
 * WAL pages at which a commit checkpoints (SQLite's default is 1,000): with the
 * worker copying ahead, a commit's checkpoint costs what the worker has not
 * copied yet, whatever the size, so checkpointing 8 times less often stalls a
 * request 8 times less often, for a WAL of up to 32 MiB instead of 4.
 */
const AUTOCHECKPOINT_PAGES = 8000;
/** How often the worker copies: what is left for a commit's checkpoint is this many ms of writes. */
const EVERY_MS = 5;
/**
 * The worker copies once the WAL file is this large: on a nearly full disk,
 * space the WAL already holds is what a last write fits in, so a small WAL is
 * left to SQLite alone.
 */
const MIN_WAL_BYTES = 1024 * 1024;
const SQLITE_DEFAULT_PAGES = 1000;

/** The checkpointing worker of one connection. */
export class Checkpoints {
  #worker: Worker | undefined;
  #db: DatabaseSync;
  #state: "waiting" | "running" | "paused" | "stopped" = "waiting";
  #path: string;
  #log: Logger | undefined;

  /**
   * Helps with the checkpoints of the file at `path` (the worker starts with the first write).
   *
   * @param db the writing connection, whose own checkpoints it makes rarer while the worker runs
   * @param path the file the writing connection has open
   * @param log where a failed worker is reported
   */
  constructor(db: DatabaseSync, path: string, log: Logger | undefined) {
    this.#db = db;
    this.#path = path;
    this.#log = log;
  }

  /** Runs before each write transaction of the connection: the first starts the worker. */
  beforeWrite(): void {
    if (this.#state === "waiting") this.#start();
  }

  /**
   * Ends the worker (its connection closes with it) for good: commits
   * checkpoint as SQLite's default has them again. Idempotent.
   */
  stop(): void {
    this.#end();
    this.#state = "stopped";
  }

  /**
   * The file failed (a full disk, a lock held too long): the worker ends
   * until a write succeeds again, and SQLite alone checkpoints meanwhile.
   */
  pause(): void {
    if (this.#state !== "running") return;
    this.#end();
    this.#state = "paused";
  }

  /**
   * Runs after each write transaction that committed: after a pause, the
   * next write starts the worker again.
   */
  afterWrite(): void {
    if (this.#state === "paused") this.#state = "waiting";
  }

  #end(): void {
    if (this.#state === "running" && this.#db.isOpen) {
      this.#db.exec(`PRAGMA wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`);
    }
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  #start(): void {
    this.#state = "running";
    this.#db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    let worker: Worker;
    try {
      worker = new Worker(new URL("./_sqlite_checkpoint_worker.ts", import.meta.url).href, {
        type: "module",
      });
    } catch (e) {
      this.#stopped(String(e));
      return;
    }
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<{ failed: string }>) => {
      if (this.#worker === worker) this.#stopped(event.data.failed);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      if (this.#worker === worker) this.#stopped(event.message);
    };
    worker.postMessage({ path: this.#path, everyMs: EVERY_MS, minWalBytes: MIN_WAL_BYTES });
  }

  #stopped(why: string): void {
    this.stop();
    this.#log?.error(
      `Background checkpoints of ${this.#path} stopped (${why}); the proxy copies its ` +
        "write-ahead log into the file itself again, which can hold a request for a few ms",
    );
  }
}
