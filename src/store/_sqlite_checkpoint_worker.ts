/**
 * The worker behind `Checkpoints` (`_sqlite_checkpoints.ts`): its own
 * connection to the file, and a PASSIVE checkpoint every few ms once the WAL
 * file has reached `minWalBytes`. PASSIVE copies the WAL into the file
 * without taking any lock a writer needs. A checkpoint that fails (a full
 * disk, say) is tried again next time; the writing connection reports what is
 * wrong with the file. Messages in: `{ path, everyMs, minWalBytes }` once.
 * Messages out: `{ failed: message }` when the file cannot be opened, and then
 * it stops.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";

interface Start {
  readonly path: string;
  readonly everyMs: number;
  readonly minWalBytes: number;
}

self.onmessage = (event: MessageEvent<Start>) => {
  const { path, everyMs, minWalBytes } = event.data;
  try {
    const db = new DatabaseSync(path);
    const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    setInterval(() => {
      try {
        if (walBytes(path) >= minWalBytes) checkpoint.get();
      } catch {
        // Tried again next time, see above.
      }
    }, everyMs);
  } catch (e) {
    fail(e);
  }
};

/** The WAL file's size: it grows to the most the WAL has held, and stays. */
function walBytes(path: string): number {
  try {
    return Deno.statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

function fail(e: unknown): void {
  self.postMessage({ failed: (e as Error)?.message ?? String(e) });
  self.close();
}
