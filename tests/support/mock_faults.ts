/**
 * The mock Anthropic API's fault scenarios: an answer that never ends (`forever`), one that stops
 * sending but keeps the connection open (`stall`), one whose connection is cut mid-body (`reset`)
 * and one that never sends a response head (`nohead`). Each body reports when its reader went
 * away, so a test can check that the proxy closed the upstream connection.
 *
 * @module
 */

/** Thrown into a `reset` body: the mock's server cuts the connection and stays quiet about it. */
export class MockReset extends Error {
  constructor() {
    super("mock: connection reset on purpose");
    this.name = "MockReset";
  }
}

/** How a fault body goes on after its first chunks. */
export interface FaultPlan {
  /** Chunks sent at once, one by one. */
  readonly first: readonly string[];
  /** Then: `more` chunks forever, nothing while the connection stays open, or a cut connection. */
  readonly then: "more" | "stall" | "reset";
  /** The `i`-th chunk after the first ones, for `more`. */
  readonly more?: (i: number) => string;
  /** Delay between `more` chunks. @default 20 */
  readonly delayMs?: number;
}

/** What a fault body is tied to. */
export interface FaultHooks {
  /** Aborted when the mock closes: the body then ends cleanly. */
  readonly stop: AbortSignal;
  /** Called once if the reader goes away before the end (the proxy closed the connection). */
  readonly gone: () => void;
}

const encoder = new TextEncoder();

/**
 * A body that follows `plan`.
 *
 * @param plan the first chunks, then what happens
 * @param hooks the mock's stop signal and the call's "reader gone" mark
 * @returns the body
 */
export function faultBody(plan: FaultPlan, hooks: FaultHooks): ReadableStream<Uint8Array> {
  const cancelled = new AbortController();
  const signal = AbortSignal.any([hooks.stop, cancelled.signal]);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const i = sent - plan.first.length;
      if (i >= 0 && plan.then === "reset") return controller.error(new MockReset());
      if (i >= 0 && plan.then === "stall") await wait(Infinity, signal);
      if (i > 0) await wait(plan.delayMs ?? 20, signal);
      if (cancelled.signal.aborted) return;
      if (hooks.stop.aborted) return controller.close();
      const chunk = i < 0 ? plan.first[sent] : plan.more?.(i);
      sent++;
      if (chunk === undefined) controller.close();
      else controller.enqueue(encoder.encode(chunk));
    },
    cancel() {
      cancelled.abort();
      hooks.gone();
    },
  });
}

/**
 * Waits until `signal` aborts and never answers before (a server that sends no response head).
 *
 * @param signal the request's signal, or the mock's stop signal
 */
export async function noHead(signal: AbortSignal): Promise<void> {
  await wait(Infinity, signal);
}

/** Resolves after `ms` (never if `Infinity`) or once `signal` aborts, leaving no timer behind. */
export function wait(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal.addEventListener("abort", done);
  });
}
