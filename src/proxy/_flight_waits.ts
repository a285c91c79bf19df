/**
 * The two waits of a flight on upstream (private to `flight.ts`): for the
 * response head, and for each body chunk. Each ends when the flight is
 * stopped, and reports silence longer than the timeout, so that no wait on
 * upstream is ever unbounded.
 *
 * @module
 */

/** How long upstream may stay silent, and what to do then (stop the flight). */
export interface Silence {
  /** The longest wait, in ms; `Infinity` for none. */
  readonly idleMs: number;
  /** Called once the wait has lasted `idleMs`: it is expected to abort the signal. */
  readonly silence: () => void;
}

/**
 * The response of `call(signal)`, or undefined once `signal` aborts first. A
 * response that arrives after that has its body cancelled, so the upstream
 * connection closes even when the call ignored its signal.
 *
 * @param call makes the upstream request
 * @param signal aborts the wait (and is handed to the call)
 * @param silence how long the head may take
 * @returns the response, or undefined when stopped
 */
export function firstOf(
  call: (signal: AbortSignal) => Promise<Response>,
  signal: AbortSignal,
  silence: Silence,
): Promise<Response | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", stopped);
    };
    const stopped = () => (settle(), resolve(undefined));
    const timer = after(silence.idleMs, silence.silence);
    signal.addEventListener("abort", stopped, { once: true });
    call(signal).then(
      (response) =>
        settled ? void response.body?.cancel().catch(() => {}) : (settle(), resolve(response)),
      (e) => settled || (settle(), reject(e)),
    );
  });
}

/**
 * The next read of `reader`, or "stopped" once `signal` aborts first.
 *
 * @param reader the upstream body
 * @param signal aborts the wait
 * @param silence how long a chunk may take
 * @returns the read, or "stopped"
 */
export function readOf(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  signal: AbortSignal,
  silence: Silence,
): Promise<ReadableStreamReadResult<Uint8Array> | "stopped"> {
  if (signal.aborted) return Promise.resolve("stopped");
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", stopped);
    };
    const stopped = () => (done(), resolve("stopped"));
    const timer = after(silence.idleMs, silence.silence);
    signal.addEventListener("abort", stopped, { once: true });
    reader.read().then((r) => (done(), resolve(r)), (e) => (done(), reject(e)));
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
