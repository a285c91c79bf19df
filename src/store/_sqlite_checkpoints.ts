/**
 * WAL checkpoints on a thread of their own (private to `src/store/`). SQLite
 * otherwise checkpoints inside the commit that takes the WAL past 1,000
 * pages: measured with hits spread over 20,000 entries, one commit in three
 * of the batched hit times took 8–10 ms instead of ~1 ms, holding every
 * request for that long (hit p99 12 ms instead of 2 ms). The connection that
 * writes turns its own checkpoints off; a worker with a second connection
 * checkpoints every few ms instead, once the WAL has grown as large as SQLite
 * lets it grow. Should the worker fail, or the file fail a write (a full
 * disk), the writing connection checkpoints itself again, as SQLite does by
 * default: slower, never stuck.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "../log.ts";

/** How often the worker checkpoints: often enough that the WAL stays a few MB at most. */
const EVERY_MS = 25;
/** SQLite's own default, restored when the worker is gone. */
const AUTOCHECKPOINT_PAGES = 1000;
/**
 * The worker starts once the WAL file is this large, as SQLite's own checkpoints
 * do: on a nearly full disk, space the WAL already holds is what a last write fits in.
 */
const MIN_WAL_BYTES = AUTOCHECKPOINT_PAGES * 4096;

/** The checkpointing worker of one connection. */
export class Checkpoints {
  #worker: Worker | undefined;
  #db: DatabaseSync;

  /**
   * Starts checkpointing the file of `db` from a worker.
   *
   * @param db the writing connection, whose own checkpoints it turns off
   * @param path the file `db` has open
   * @param log where a failed worker is reported
   */
  constructor(db: DatabaseSync, path: string, log: Logger | undefined) {
    const worker = new Worker(new URL("./_sqlite_checkpoint_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker = worker;
    this.#db = db;
    const fallBack = (why: string) => {
      if (this.#worker !== worker) return; // stopped meanwhile: nothing to undo
      this.handBack();
      log?.error(
        `Background checkpoints of ${path} stopped (${why}); the proxy checkpoints it ` +
          "itself again, which can hold a request for a few ms",
      );
    };
    worker.onmessage = (event: MessageEvent<{ failed: string }>) => fallBack(event.data.failed);
    worker.onerror = (event) => {
      event.preventDefault();
      fallBack(event.message);
    };
    db.exec("PRAGMA wal_autocheckpoint = 0");
    worker.postMessage({ path, everyMs: EVERY_MS, minWalBytes: MIN_WAL_BYTES });
  }

  /** Ends the worker (its connection closes with it). Idempotent. */
  stop(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  /**
   * Ends the worker and has the writing connection checkpoint itself again,
   * as SQLite does by default: when the file is in trouble (a full disk), the
   * plainest way is the one to be in.
   */
  handBack(): void {
    this.stop();
    if (this.#db.isOpen) this.#db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}
