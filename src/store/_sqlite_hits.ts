/**
 * Hit times and counts, counted in memory on the hit path and written later
 * in slices (private to `sqlite.ts`): a hit never waits on a disk write, and a
 * second of hits spread over many entries never holds the event loop long.
 *
 * @module
 */

/**
 * Hit times written per transaction, ~7 µs each (the narrow hits table), so
 * a slice holds the event loop ~2 ms; the next slice waits for what queued
 * meanwhile (20,000 hit times in one go stalled every hit for ~350 ms).
 */
const HIT_SLICE = 256;

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
   * Writes what is pending now, a slice of {@link HIT_SLICE} per transaction
   * and the next one on a later event-loop turn; hits counted meanwhile wait
   * for the next call.
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
      const slice = Math.min(HIT_SLICE, left);
      left -= slice;
      this.flush(slice);
      setTimeout(next, 0);
    };
    next();
  }

  /**
   * Writes up to `max` pending hits in one transaction; a failure loses them,
   * which is harmless (hit times only steer eviction order) and logged by the file.
   *
   * @param max how many at most @default Infinity
   */
  flush(max = Infinity): void {
    if (this.#pending.size === 0) return;
    try {
      this.#file.transaction(() => this.write(max));
    } catch {
      // See above.
    }
  }

  /**
   * Writes up to `max` pending hits, oldest first, inside the caller's transaction.
   *
   * @param max how many at most @default Infinity
   */
  write(max = Infinity): void {
    let written = 0;
    for (const [key, { at, n }] of this.#pending) {
      if (written++ >= max) return;
      this.#file.touch(key, at, n);
      this.#pending.delete(key);
    }
  }
}
