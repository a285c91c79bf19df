/**
 * Hit times and counts, counted in memory on the hit path and written later
 * in slices (private to `sqlite.ts`): a hit never waits on a disk write, and
 * hits spread over many entries never hold the event loop long.
 *
 * Each entry's hits are written at most once per flush, whatever their number,
 * and one such write costs far more than a hit (it dirties two random pages
 * of the file: the row and its place in the hit-time index; measured 20–60 µs
 * under load). So the writes are batched over seconds, not one, and a flush
 * runs in slices of a millisecond, one per event-loop turn.
 *
 * @module
 */

/**
 * How long one slice of a flush may hold the event loop. Measured with hits
 * spread over 20,000 entries at 32 connections: slices of 256 writes (2–13 ms)
 * gave a hit p99 of 12 ms; no writes at all, 1.3–1.8 ms.
 */
const SLICE_MS = 0.5;
/** Writes between two looks at the clock within a slice. */
const CLOCK_EVERY = 8;

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
   * When an entry was last hit, if that is not written yet (the file says earlier).
   *
   * @param key the entry
   * @returns the time of its last hit, or undefined when it has none pending
   */
  lastHitAt(key: string): number | undefined {
    return this.#pending.get(key)?.at;
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
  }

  /**
   * Writes what is pending now, {@link SLICE_MS} per transaction and the next
   * slice on a later event-loop turn; hits counted meanwhile wait for the next call.
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
      setTimeout(next, 0);
    };
    next();
  }

  /**
   * Writes pending hits in one transaction, oldest first, for up to
   * `budgetMs`; a failure loses them, which is harmless (hit times only steer
   * eviction order) and logged by the file.
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
    for (const [key, { at, n }] of this.#pending) {
      if (written > 0 && written % CLOCK_EVERY === 0 && performance.now() >= until) return;
      this.#file.touch(key, at, n);
      this.#pending.delete(key);
      written++;
    }
  }
}
