/**
 * The flight locks of a fail-open store (private to `fail_open.ts`): they
 * pass through to the inner store's locks, but fail fast while it is down,
 * since a lock the store cannot hold is not one to wait for.
 *
 * @module
 */
import type { FlightLocks, HeldLock } from "./store.ts";

/** What the locks need from the store wrapper: its two ways to make a call, and its outage. */
export interface LockGuard {
  /** Rejects without trying while the store is down; a failure begins an outage and rethrows. */
  must<T>(call: () => Promise<T>): Promise<T>;
  /** Answers `fallback` while the store is down, or when the call fails. */
  tolerate<T, F>(call: () => Promise<T>, fallback: F): Promise<T | F>;
  /** Resolves when the current outage begins; read at each call, as a recovery replaces it. */
  outage(): Promise<void>;
}

const OUTAGE = Symbol("outage");

/**
 * Wraps `locks` so that no call waits on a store that is down.
 *
 * @param locks the inner store's locks
 * @param guard the wrapper's call guards and outage signal
 * @returns locks that reject (or let waiters go) while the store is down
 */
export function guardLocks(locks: FlightLocks, guard: LockGuard): FlightLocks {
  const guardHeld = (held: HeldLock): HeldLock => ({
    extend: () => guard.must(() => held.extend()),
    // An unreleased lock expires after its TTL; a caller's `finally` need not catch.
    release: () => guard.tolerate(() => held.release(), undefined),
    publish: (answer) => held.publish(answer),
    followed: () => guard.tolerate(() => held.followed(), false),
  });
  return {
    acquire: async (key, ttlMs) => {
      const held = await guard.must(() => locks.acquire(key, ttlMs));
      return held && guardHeld(held);
    },
    // Nothing to follow while the store is down; an answer that comes after the outage began is let go.
    follow: async (key, signal) => {
      const following = guard.tolerate(() => locks.follow(key, signal), undefined);
      const first = await Promise.race([
        following,
        guard.outage().then((): typeof OUTAGE => OUTAGE),
      ]);
      if (first !== OUTAGE) return first;
      following.then((answer) => answer?.body?.cancel());
      return undefined;
    },
  };
}
