/**
 * Hit times and counts, counted in memory on the hit path and written later
 * in slices (private to `sqlite.ts`): a hit never waits on a disk write, and
 * hits spread over many entries never hold the event loop long.
 *
 * Each entry's hits are written at most once per flush, whatever their number,
 * and one such write costs far more than a hit (it dirties two random pages
 * of the file: the row and its place in the hit-time index; measured 20–60 µs
 * under load). So the writes are batched over seconds, not one, and a flush
 * runs in slices of about half a millisecond, a few ms apart, in key order.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * How long one slice of a flush may write before it commits; the commit takes
 * about as long again. Measured with hits spread over 20,000 entries at 32
 * connections, over 4 s windows that held a flush: slices of 256 writes
 * (2–13 ms) gave a hit p99 of 12 ms; 0.5 ms slices (1.2 ms with the commit)
 * 2 ms apart (a setTimeout of 0 in Deno), 3.5–5 ms; 0.25 ms slices of sorted
 * keys, 5 ms apart, 1.9 ms; windows without a flush, 1.4–2.4 ms.
 */
const SLICE_MS = 0.25;
/** Writes between two looks at the clock within a slice. */
const CLOCK_EVERY = 8;
/** The pause between two slices: a request waits behind one slice at most. */
const PAUSE_MS = 5;
/**
 * Keys taken and sorted at a time (~1 ms): the rows that one slice then
 * writes share pages of the hits table, so its commit writes fewer (54 rows
 * a slice instead of 46 in the same time).
 */
const SORTED_KEYS = 5000;
/**
 * Entries with unwritten hits that start a flush before its time (~10 MB of
 * memory), and past which the slices of a flush come without a pause, so
 * that hits spread over more entries than that cannot outrun it.
 */
export const MAX_PENDING_HITS = 50_000;

/** How pending hits reach the file. */
export interface HitWriter {
  /** Runs `work` in one write transaction; throws when the file fails. */
  transaction(work: () => void): void;
  /** Writes one entry's last hit time and adds `n` hits (inside a transaction). */
  touch(key: string, at: number, n: number): void;
  /** False once the file is closed. */
  readonly isOpen: boolean;
}

/** The hits counted since they were last written, by entry key. */
export class PendingHits {
  #pending = new Map<string, { at: number; n: number }>();
  /** Pending keys in the order the next writes take them (sorted), last first. */
  #next: string[] = [];
  #flushing = false;
  #file: HitWriter;

  /** @param file where the hits are written */
  constructor(file: HitWriter) {
    this.#file = file;
  }

  /**
   * Counts a hit in memory.
   *
   * @param key the entry
   * @param now when
   */
  count(key: string, now: number): void {
    const pending = this.#pending.get(key);
    if (pending) {
      pending.at = now;
      pending.n++;
    } else this.#pending.set(key, { at: now, n: 1 });
  }

  /** How many entries have hits not yet written. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * An entry as the file will show it once its pending hits are written.
   *
   * @param entry hit time and count as read from the file
   * @returns the same entry, or a copy with the pending hits added
   */
  overlay<
    T extends { readonly key: string; readonly lastHitAt: number; readonly hitCount: number },
  >(
    entry: T,
  ): T {
    const pending = this.#pending.get(entry.key);
    if (!pending) return entry;
    return {
      ...entry,
      lastHitAt: Math.max(entry.lastHitAt, pending.at),
      hitCount: entry.hitCount + pending.n,
    };
  }

  /**
   * Writes one entry's pending hits now, inside the caller's write transaction.
   *
   * @param key the entry
   * @returns whether it had any
   */
  writeNow(key: string): boolean {
    const pending = this.#pending.get(key);
    if (!pending) return false;
    this.#file.touch(key, pending.at, pending.n);
    this.#pending.delete(key);
    return true;
  }

  /**
   * Forgets an entry's pending hits (it was deleted).
   *
   * @param key the entry
   */
  forget(key: string): void {
    this.#pending.delete(key);
  }

  /** Forgets every pending hit (the file was replaced). */
  clear(): void {
    this.#pending.clear();
    this.#next = [];
  }

  /**
   * Writes what is pending now, {@link SLICE_MS} per transaction and the next
   * slice {@link PAUSE_MS} later (at once past {@link MAX_PENDING_HITS}); hits
   * counted meanwhile wait for the next call.
   */
  flushInSlices(): void {
    if (this.#flushing || this.#pending.size === 0) return;
    this.#flushing = true;
    let left = this.#pending.size;
    const next = () => {
      if (!this.#file.isOpen || left <= 0 || this.#pending.size === 0) {
        this.#flushing = false;
        return;
      }
      left -= this.flush(SLICE_MS);
      // Past the cap, on the next turn (setTimeout(0) would wait 2 ms in Deno).
      if (this.#pending.size >= MAX_PENDING_HITS) setImmediate(next);
      else setTimeout(next, PAUSE_MS);
    };
    next();
  }

  /**
   * Writes pending hits in one transaction, oldest first (sorted by key a few
   * thousand at a time), for up to `budgetMs`; a failure loses them, which is
   * harmless (hit times only steer eviction order) and logged by the file.
   *
   * @param budgetMs how long it may take @default Infinity: all of them
   * @returns how many entries' hits it took (written or lost)
   */
  flush(budgetMs = Infinity): number {
    if (this.#pending.size === 0) return 0;
    const before = this.#pending.size;
    try {
      this.#file.transaction(() => this.#write(budgetMs));
    } catch {
      // See above; what the transaction took is lost, the rest waits.
    }
    return Math.max(1, before - this.#pending.size);
  }

  #write(budgetMs: number): void {
    const until = performance.now() + budgetMs;
    let written = 0;
    for (let key = this.#nextKey(); key !== undefined; key = this.#nextKey()) {
      const pending = this.#pending.get(key);
      if (!pending) continue; // forgotten since it was taken
      if (written > 0 && written % CLOCK_EVERY === 0 && performance.now() >= until) {
        this.#next.push(key);
        return;
      }
      this.#file.touch(key, pending.at, pending.n);
      this.#pending.delete(key);
      written++;
    }
  }

  /** The next pending key to write: the oldest {@link SORTED_KEYS} are taken and sorted at a time. */
  #nextKey(): string | undefined {
    if (this.#next.length === 0) {
      for (const key of this.#pending.keys()) {
        if (this.#next.push(key) === SORTED_KEYS) break;
      }
      this.#next.sort().reverse();
    }
    return this.#next.pop();
  }
}
