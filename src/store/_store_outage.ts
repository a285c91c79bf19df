/**
 * The outage of a shared store, as {@link FailOpenStore} tracks it: the first
 * failing call turns it `degraded` and logs one warning; while degraded a
 * background probe pings the store every `probeEveryMs`, and the first ping
 * that answers ends the outage with one line.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { StoreHealth } from "./store.ts";
import { StoreUnavailableError } from "./store_unavailable_error.ts";

/** Probe interval and timeout of an outage, and its clock. */
export interface OutageOptions {
  /** How often a degraded store is pinged, in ms. @default 1000 */
  readonly probeEveryMs?: number;
  /** A ping that has not answered after this many ms counts as failed. @default 2000 */
  readonly probeTimeoutMs?: number;
  /** Clock in ms since the epoch, for the length of an outage. @default Date.now */
  readonly now?: () => number;
}

/** Whether a store is down, since when and why, and the probe that ends the outage. */
export class StoreOutage {
  #ping: () => Promise<void>;
  #log: Logger;
  #probeEveryMs: number;
  #probeTimeoutMs: number;
  #now: () => number;
  #state: StoreHealth = "ok";
  /** Bumped at every recovery: a late failure of a call begun before it is not a new outage. */
  #epoch = 0;
  #downSince = 0;
  #cause: unknown;
  #outage = Promise.withResolvers<void>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #probing: Promise<boolean> | undefined;
  #closed = false;

  /**
   * @param ping resolves when the store answers; rejects while it is down
   * @param log where the outage and recovery lines go
   * @param options probe interval and timeout, clock
   */
  constructor(ping: () => Promise<void>, log: Logger, options: OutageOptions = {}) {
    this.#ping = ping;
    this.#log = log;
    this.#probeEveryMs = options.probeEveryMs ?? 1000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    this.#now = options.now ?? Date.now;
  }

  /** `degraded` from a failed call until a probe reaches the store again. */
  health(): StoreHealth {
    return this.#state;
  }

  /** The recovery count, to hand back to {@link StoreOutage.fail} with a call's error. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Resolves when the next outage begins. */
  begun(): Promise<void> {
    return this.#outage.promise;
  }

  /**
   * Pings the store once: when it does not answer, the outage begins.
   *
   * @returns the state after the ping
   */
  async check(): Promise<StoreHealth> {
    if (this.#state === "degraded") return this.#state;
    const epoch = this.#epoch;
    try {
      await this.#timedPing();
    } catch (e) {
      this.fail(e, epoch);
    }
    return this.#state;
  }

  /**
   * Runs a call unless the store is down; a failure begins the outage.
   *
   * @param call the call to the store
   * @param fallback what to answer while the store is down or when the call fails
   * @returns the call's answer, or the fallback
   */
  async read<T, F>(call: () => Promise<T>, fallback: F): Promise<T | F> {
    if (this.#state === "degraded") return fallback;
    const epoch = this.#epoch;
    try {
      return await call();
    } catch (e) {
      this.fail(e, epoch);
      return fallback;
    }
  }

  /**
   * Runs a call that must not be dropped: rejects without trying it while the
   * store is down; a failure begins the outage and rethrows.
   *
   * @param call the call to the store
   * @returns the call's answer
   */
  async must<T>(call: () => Promise<T>): Promise<T> {
    if (this.#state === "degraded") throw new StoreUnavailableError(this.#cause);
    const epoch = this.#epoch;
    try {
      return await call();
    } catch (e) {
      this.fail(e, epoch);
      throw e;
    }
  }

  /**
   * Begins an outage for a call that failed, unless one is on or the store
   * recovered since the call began.
   *
   * @param error what the call threw
   * @param epoch {@link StoreOutage.epoch} when the call began
   */
  fail(error: unknown, epoch: number): void {
    if (this.#closed || this.#state === "degraded" || epoch !== this.#epoch) return;
    this.#state = "degraded";
    this.#cause = error;
    this.#downSince = this.#now();
    this.#outage.resolve();
    this.#log.error(
      `Cache store unreachable (${messageOf(error)}): every call goes straight to Anthropic ` +
        `(x-cache: BYPASS) until it is back. Caching resumes on its own, without a restart, ` +
        `once the store answers (checked every ${this.#probeEveryMs / 1000} s)`,
      { error: messageOf(error) },
    );
    this.#scheduleProbe();
  }

  /**
   * Stops probing for good.
   *
   * @returns the probe under way, if any, to await
   */
  stop(): Promise<boolean> | undefined {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#probing;
  }

  #recover(): void {
    const downMs = this.#now() - this.#downSince;
    this.#state = "ok";
    this.#epoch++;
    this.#cause = undefined;
    this.#outage = Promise.withResolvers<void>();
    this.#log.info(`Cache store is back: caching again after ${seconds(downMs)} s`, { downMs });
  }

  #scheduleProbe(): void {
    if (this.#closed) return;
    const timer = setTimeout(() => this.#probe(), this.#probeEveryMs);
    Deno.unrefTimer(Number(timer));
    this.#timer = timer;
  }

  async #probe(): Promise<void> {
    this.#timer = undefined;
    this.#probing = this.#timedPing().then(() => true, () => false);
    const up = await this.#probing;
    this.#probing = undefined;
    if (this.#closed) return;
    if (up) this.#recover();
    else this.#scheduleProbe();
  }

  /** One ping that counts as failed after `probeTimeoutMs`. */
  async #timedPing(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer to a ping in ${seconds(this.#probeTimeoutMs)} s`)),
        this.#probeTimeoutMs,
      );
    });
    try {
      await Promise.race([this.#ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * @param error anything thrown
 * @returns its message, for a log line
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
