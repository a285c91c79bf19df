/**
 * Coalescing across proxy instances that share a store (a fleet on one
 * Redis): before a miss goes upstream, the instance takes the key's lock and
 * publishes the answer as it arrives; an instance that finds the lock taken
 * follows that answer, streaming the same bytes (and the same status, a
 * failure included) to its clients a few ms behind. A holder keeps its lock
 * alive while its upstream call runs; if it dies before its answer's head,
 * the lock expires and a waiter takes over. Every wait is bounded, and a
 * store that cannot coordinate means "go upstream", never a hang.
 *
 * @module
 */
import type { CachedAnswer, FlightLocks, HeldLock } from "../store/store.ts";

/**
 * The longest a request waits for other instances before going upstream
 * anyway. A held lock means a live holder (a dead one's lock expires), so
 * this only bounds a holder whose answer takes very long to begin.
 */
const MAX_WAIT_MS = 10 * 60_000;

/**
 * What coordination decided: replay the answer another instance stored,
 * stream the one it is receiving, or lead (with a lease; without one when the
 * store cannot coordinate).
 */
export type Coordination =
  | { readonly entry: CachedAnswer; readonly answer?: undefined; readonly lock?: undefined }
  | { readonly answer: Response; readonly entry?: undefined; readonly lock?: undefined }
  | { readonly lock: Lease | undefined; readonly entry?: undefined; readonly answer?: undefined };

/** A held lock, extended in the background until released. */
export interface Lease {
  /** The upstream answer, also published for the instances that follow this key. */
  publish(answer: Response): Response;
  /** Whether another instance reads the published answer now; never rejects. */
  followed(): Promise<boolean>;
  /** Stops extending and releases the lock; never throws. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes `key`'s lock, or follows the instance that holds it.
 *
 * @param key the cache key
 * @param locks the shared store's locks
 * @param ttlMs how long a lock lives unless extended: a dead holder blocks others this long
 * @param read reads the shared store, failing open
 * @param signal stops reading a followed answer (its body then breaks off)
 * @returns the answer another instance stored or is receiving, or a lease
 *   (undefined: go upstream uncoordinated)
 */
export async function coordinate(
  key: string,
  locks: FlightLocks,
  ttlMs: number,
  read: (key: string) => Promise<CachedAnswer | undefined>,
  signal: AbortSignal,
): Promise<Coordination> {
  const deadline = Date.now() + MAX_WAIT_MS;
  while (Date.now() < deadline) {
    let lock: HeldLock | undefined;
    let answer: Response | undefined;
    try {
      lock = await locks.acquire(key, ttlMs);
      if (lock) return { lock: lease(lock, ttlMs) };
      answer = await locks.follow(key, signal);
    } catch {
      return { lock: undefined }; // the store cannot coordinate: go upstream
    }
    if (answer) return { answer };
    // Nobody holds the lock now: its holder stored its answer, or went without one.
    const entry = await read(key);
    if (entry) return { entry };
  }
  return { lock: undefined };
}

/**
 * The upstream call, its answer also published for the instances that follow
 * this key: when this instance's clients all leave, the call goes on while
 * another instance reads it (and is stored, as any complete answer).
 *
 * @param forward the upstream call
 * @param lease the lock this instance holds on the key
 * @returns the upstream call to start the flight with
 */
export function publishing(
  forward: (signal: AbortSignal) => Promise<Response>,
  lease: Lease,
): (signal: AbortSignal) => Promise<Response> {
  return async (signal) => {
    const upstream = new AbortController();
    const leave = async () => {
      if (!await lease.followed()) upstream.abort(signal.reason);
    };
    signal.addEventListener("abort", leave, { once: true });
    return lease.publish(await forward(upstream.signal));
  };
}

/**
 * Another instance's answer as the upstream call of a local flight: once the
 * flight is aborted (its clients all left), `stop` ends the reading.
 *
 * @param answer the followed answer
 * @param stop aborts the reading ({@link coordinate}'s signal)
 * @returns the call to start the flight with
 */
export function relay(
  answer: Response,
  stop: AbortController,
): (signal: AbortSignal) => Promise<Response> {
  return (signal) => {
    signal.addEventListener("abort", () => stop.abort(), { once: true });
    return Promise.resolve(answer);
  };
}

function lease(lock: HeldLock, ttlMs: number): Lease {
  const timer = setInterval(() => lock.extend().catch(() => {}), ttlMs / 3);
  Deno.unrefTimer(Number(timer));
  let released: Promise<void> | undefined;
  return {
    publish: (answer) => lock.publish(answer),
    followed: () => lock.followed(),
    release: () => released ??= (clearInterval(timer), lock.release().catch(() => {})),
  };
}
