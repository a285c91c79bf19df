/**
 * The waits of a flight on upstream (private to `flight.ts`): for the
 * response head, then for each body chunk. One {@link Watchdog} per flight
 * bounds them all, so no wait on upstream is ever unbounded: one timer for
 * the whole answer, not a timer and an abort listener per chunk (~8 µs a
 * chunk on a cold path, on the way to every miss's first byte).
 *
 * @module
 */

/**
 * Tells a flight when upstream has been silent for `idleMs` while it was
 * waited on. Its one timer is armed by the first wait and moved on only when
 * it fires: a chunk that arrives costs an assignment, not a timer.
 */
export class Watchdog {
  #idleMs: number;
  #silent: () => void;
  /** When the current wait on upstream began; undefined while nothing waits on it. */
  #waitingSince: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param idleMs the longest silence, in ms; `Infinity` for none
   * @param silent called once upstream has been silent that long (it stops the flight)
   */
  constructor(idleMs: number, silent: () => void) {
    this.#idleMs = idleMs;
    this.#silent = silent;
  }

  /** Upstream is waited on from now: for the head, or for the next chunk. */
  waiting(): void {
    this.#waitingSince = performance.now();
    if (this.#timer === undefined && Number.isFinite(this.#idleMs)) {
      this.#timer = setTimeout(this.#check, this.#idleMs);
    }
  }

  /** Nothing waits on upstream for now (a client is behind); the next `waiting()` restarts the clock. */
  paused(): void {
    this.#waitingSince = undefined;
  }

  /** The flight is over: no more checks. */
  stop(): void {
    this.paused();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check = (): void => {
    this.#timer = undefined;
    if (this.#waitingSince === undefined) return;
    const left = this.#waitingSince + this.#idleMs - performance.now();
    if (left > 0) this.#timer = setTimeout(this.#check, left);
    else this.#silent();
  };
}

/**
 * The response of `call(signal)`, or undefined once `signal` aborts first. A
 * response that arrives after that has its body cancelled, so the upstream
 * connection closes even when the call ignored its signal.
 *
 * @param call makes the upstream request
 * @param signal aborts the wait (and is handed to the call)
 * @returns the response, or undefined when stopped
 */
export function firstOf(
  call: (signal: AbortSignal) => Promise<Response>,
  signal: AbortSignal,
): Promise<Response | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = () => {
      settled = true;
      signal.removeEventListener("abort", stopped);
    };
    const stopped = () => (settle(), resolve(undefined));
    signal.addEventListener("abort", stopped, { once: true });
    call(signal).then(
      (response) =>
        settled ? void response.body?.cancel().catch(() => {}) : (settle(), resolve(response)),
      (e) => settled || (settle(), reject(e)),
    );
  });
}

/**
 * A timer for `ms`, or none when `ms` is infinite (`setTimeout` would fire at once).
 *
 * @param ms the delay
 * @param fire what to run then
 * @returns the timer, for `clearTimeout`
 */
export function after(ms: number, fire: () => void): ReturnType<typeof setTimeout> | undefined {
  return Number.isFinite(ms) ? setTimeout(fire, ms) : undefined;
}
