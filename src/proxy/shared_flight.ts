/**
 * Coalescing across proxy instances that share a store (a fleet on one
 * Redis): before a miss goes upstream, the instance takes the key's lock; an
 * instance that finds it taken waits until it is released, then replays what
 * the holder stored. A holder keeps its lock alive while its upstream call
 * runs; if it dies, the lock expires and a waiter takes over. Every wait is
 * bounded, and a store that cannot coordinate means "go upstream", never a
 * hang.
 *
 * @module
 */
import type { CacheEntry, FlightLocks, HeldLock } from "../store/store.ts";

/**
 * The longest a request waits for other instances before going upstream
 * anyway. A held lock means a live holder (a dead one's lock expires), so
 * this only bounds a holder whose answer streams for very long.
 */
const MAX_WAIT_MS = 10 * 60_000;

/** What coordination decided: replay the answer another instance stored, or lead. */
export type Coordination =
  | { readonly entry: CacheEntry; readonly lock?: undefined }
  | { readonly entry?: undefined; readonly lock: Lease | undefined };

/** A held lock, extended in the background until released. */
export interface Lease {
  /** Stops extending and releases the lock; never throws. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes `key`'s lock, or waits for the instance that holds it and returns
 * what it stored.
 *
 * @param key the cache key
 * @param locks the shared store's locks
 * @param ttlMs how long a lock lives unless extended: a dead holder blocks others this long
 * @param read reads the shared store, failing open
 * @returns the other instance's stored answer, or a lease (undefined: go upstream uncoordinated)
 */
export async function coordinate(
  key: string,
  locks: FlightLocks,
  ttlMs: number,
  read: (key: string) => Promise<CacheEntry | undefined>,
): Promise<Coordination> {
  const deadline = Date.now() + MAX_WAIT_MS;
  while (Date.now() < deadline) {
    let lock: HeldLock | undefined;
    try {
      lock = await locks.acquire(key, ttlMs);
    } catch {
      return { lock: undefined }; // the store cannot coordinate: go upstream
    }
    if (lock) return { lock: lease(lock, ttlMs) };
    await locks.released(key, Math.min(ttlMs, deadline - Date.now()));
    const entry = await read(key);
    if (entry) return { entry };
  }
  return { lock: undefined };
}

function lease(lock: HeldLock, ttlMs: number): Lease {
  const timer = setInterval(() => lock.extend().catch(() => {}), ttlMs / 3);
  Deno.unrefTimer(Number(timer));
  let released: Promise<void> | undefined;
  return {
    release: () => released ??= (clearInterval(timer), lock.release().catch(() => {})),
  };
}
