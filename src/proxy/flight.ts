/**
 * In-flight coalescing: one upstream call per cache key at a time. The first
 * request (the leader) starts a {@link Flight}; identical requests that arrive
 * while it runs join it and receive the bytes already received, then the rest
 * live. The flight, not any one client, owns the upstream call: it is closed
 * when nobody is listening any more, when upstream goes quiet for longer than
 * the timeout, and never left to run on its own.
 *
 * @module
 */
import type { Recording } from "../cache/recorder.ts";
import { errorEvent, errorResponse, HttpError, silentUpstream } from "./errors.ts";
import { after, firstOf, Watchdog } from "./_flight_waits.ts";

/** Status and headers of the upstream answer. */
export interface FlightHead {
  /** HTTP status. */
  readonly status: number;
  /** Headers to send to clients. */
  readonly headers: Headers;
}

/** One client's view of a flight. */
export interface Subscription {
  /** The body: every chunk from the first, then live ones. */
  readonly stream: ReadableStream<Uint8Array>;
  /** Stops listening; idempotent. The last listener to leave closes the upstream call. */
  leave(): void;
}

/** Calls upstream; must resolve to a response (errors become e.g. a 502), never reject. */
export type UpstreamCall = (signal: AbortSignal) => Promise<Response>;

/** How the body of a flight ended. */
export interface BodyEnd {
  /**
   * `complete`: whole; `broken`: upstream cut it off; `timeout`: upstream sent
   * nothing for the timeout; `left`: every client left, so the call was closed.
   */
  readonly how: "complete" | "broken" | "timeout" | "left";
  /** What broke it off, for `broken`. */
  readonly error?: unknown;
  /** True when the answer outgrew the recording cap: relayed whole, no longer recorded. */
  readonly oversize: boolean;
  /** Body bytes relayed to clients. */
  readonly bytes: number;
}

/** How the body ended, as the pump sees it. */
type Ending = Pick<BodyEnd, "how" | "error">;

/**
 * Runs once the body has ended or broken off, before clients see the end;
 * what it returns becomes {@link Flight.ended}.
 */
export type FlightEnd<T> = (recording: Recording, end: BodyEnd) => Promise<T>;

/** The bounds every flight keeps to. */
export interface FlightLimits {
  /** Longest wait for the response head, then between two body chunks, in ms. */
  readonly idleMs: number;
  /**
   * Body bytes recorded at most. Past it the answer is still relayed but its
   * chunks are dropped, so memory stays bounded, and nobody new may join.
   */
  readonly maxRecordBytes: number;
}

/** No bounds: for tests that build a flight by hand. */
export const NO_LIMITS: FlightLimits = { idleMs: Infinity, maxRecordBytes: Infinity };

/**
 * What a client's body stream breaks off with when its answer did not end
 * normally (upstream cut it, or the proxy closed it); the client sees the
 * connection end. The flight's end handler has already said why.
 */
export class BrokenOff extends Error {
  /**
   * @param message what happened to the answer
   * @param cause the upstream error, if any
   */
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "BrokenOff";
  }
}

const encoder = new TextEncoder();
/**
 * Unread bytes a client may have before the flight waits for it: the answer
 * is read from upstream at the pace of its slowest client, so memory stays
 * bounded, and a client whose backlog stays full for the timeout is cut off.
 */
const BACKLOG_BYTES = 1024 * 1024;
const BACKLOG = new ByteLengthQueuingStrategy({ highWaterMark: BACKLOG_BYTES });
/** The blocks small chunks are copied to grow from 4 KiB (an answer of one small chunk) to 64 KiB. */
const FIRST_BLOCK_BYTES = 4 * 1024;
const BLOCK_BYTES = 64 * 1024;

/** One upstream call and the clients listening to it. */
export class Flight<T = void> {
  /** Resolves once upstream has answered with a status (or the proxy answered for it). */
  readonly head: Promise<FlightHead>;
  /** Resolves with the end handler's result once the body has ended or broken off. */
  readonly ended: Promise<T>;
  #limits: FlightLimits;
  /** Upstream silent for the timeout stops the flight. */
  #watchdog: Watchdog;
  #chunks: Uint8Array[] = [];
  /** When each chunk arrived, in ms after the upstream call started. */
  #times: number[] = [];
  /** Body bytes relayed so far. */
  #relayed = 0;
  #oversize = false;
  /** Where small chunks are copied to (see #compact), and how much of it is taken. */
  #block = new Uint8Array(0);
  #blockUsed = 0;
  #startedAt = performance.now();
  #state: "running" | "done" | "failed" = "running";
  /** What the clients' streams end with: an error breaks them off; undefined closes them. */
  #failure: unknown;
  #listeners = 0;
  #abort = new AbortController();
  /** Each client's stream, and how it leaves. */
  #subscribers = new Map<ReadableStreamDefaultController<Uint8Array>, () => void>();
  /** Set while the flight waits for a slow client: told when a client has read. */
  #wake: (() => void) | undefined;
  #keep: (() => Promise<boolean>) | undefined;

  /**
   * Starts the upstream call at once.
   *
   * @param call makes the upstream request
   * @param onEnd receives the recording when the body ends
   * @param limits the timeout and the recording cap @default NO_LIMITS
   * @param keep asked when the last client leaves: true keeps the call going
   *   without clients (another instance of a fleet follows it), so its answer is
   *   still recorded and stored
   */
  constructor(
    call: UpstreamCall,
    onEnd: FlightEnd<T>,
    limits: FlightLimits = NO_LIMITS,
    keep?: () => Promise<boolean>,
  ) {
    this.#limits = limits;
    this.#keep = keep;
    this.#watchdog = new Watchdog(limits.idleMs, () => this.#stop("timeout"));
    const head = Promise.withResolvers<FlightHead>();
    this.head = head.promise;
    this.ended = this.#run(call, onEnd, head.resolve);
  }

  /** True until the body has ended or broken off. */
  get running(): boolean {
    return this.#state === "running";
  }

  /** True while a new client may still join: running, not being stopped, all chunks kept. */
  get joinable(): boolean {
    return this.running && !this.#abort.signal.aborted && !this.#oversize;
  }

  /**
   * Adds a listener: it gets every chunk received so far at once, then each
   * new one as it arrives. Upstream is read at the pace of the slowest client
   * once one has a backlog (a megabyte); a client whose backlog stays full for
   * the timeout is cut off, so a stalled client holds nobody for long.
   *
   * @returns the body stream and a way to stop listening
   */
  subscribe(): Subscription {
    this.#listeners++;
    let listening = true;
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const leave = () => {
      if (!listening) return;
      listening = false;
      if (controller) this.#subscribers.delete(controller);
      if (--this.#listeners === 0 && this.running) this.#lastLeft();
      else this.#wake?.(); // the flight may have been waiting for this one
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        for (const chunk of this.#chunks) c.enqueue(chunk);
        if (this.running) this.#subscribers.set(c, leave);
        else this.#end(c);
      },
      pull: () => this.#wake?.(),
      cancel: leave,
    }, BACKLOG);
    return { stream, leave };
  }

  /**
   * Subscribes a client request and waits for the head. Until the head
   * arrives the client's leaving is seen on `clientLeft` (a request's
   * signal); after it, on the body stream being cancelled.
   *
   * @param clientLeft aborted when the client disconnects
   * @returns the head and the subscription, whose stream is the body to send
   */
  async follow(
    clientLeft: AbortSignal,
  ): Promise<{ readonly head: FlightHead; readonly subscription: Subscription }> {
    const subscription = this.subscribe();
    const leave = () => subscription.leave();
    if (clientLeft.aborted) leave(); // it left before: an abort event will not come again
    clientLeft.addEventListener("abort", leave, { once: true });
    try {
      return { head: await this.head, subscription };
    } finally {
      clientLeft.removeEventListener("abort", leave);
    }
  }

  async #run(
    call: UpstreamCall,
    onEnd: FlightEnd<T>,
    setHead: (head: FlightHead) => void,
  ): Promise<T> {
    const { response, own } = await this.#answer(call);
    setHead({ status: response.status, headers: response.headers });
    const ending = await (own ? this.#relayOwn(response) : this.#pump(response));
    this.#watchdog.stop();
    const end: BodyEnd = { ...ending, oversize: this.#oversize, bytes: this.#relayed };
    const recording = {
      status: response.status,
      headers: response.headers,
      chunks: this.#chunks,
      times: this.#times,
    };
    try {
      return await onEnd(recording, end);
    } finally {
      this.#settle(end.how === "complete" ? "done" : "failed");
    }
  }

  /**
   * Upstream's response, or the proxy's own when upstream sends no head within
   * the timeout (504) or every client leaves first (499). The call is closed
   * in both cases, even by a fetch that ignored its signal.
   */
  async #answer(call: UpstreamCall): Promise<{ response: Response; own: boolean }> {
    try {
      this.#watchdog.waiting();
      const response = await firstOf(call, this.#abort.signal);
      return response
        ? { response, own: false }
        : { response: errorResponse(this.#stopReason()), own: true };
    } catch (e) { // a call should answer every failure with a response; this one threw
      return { response: errorResponse(new HttpError(502, "api_error", `${e}`)), own: false };
    }
  }

  /** Relays the proxy's own answer to a flight stopped before the head: whole, for every client. */
  async #relayOwn(response: Response): Promise<Ending> {
    this.#push(await response.bytes());
    return { how: this.#abort.signal.reason === "timeout" ? "timeout" : "left" };
  }

  /** Relays the body chunk by chunk until it ends, breaks, idles past the timeout or is stopped. */
  async #pump(response: Response): Promise<Ending> {
    const reader = response.body?.getReader();
    if (!reader) return { how: "complete" };
    const signal = this.#abort.signal;
    // Cancelling ends a read in progress, even of a body that ignores the signal.
    const cancel = () => void reader.cancel().catch(() => {});
    signal.addEventListener("abort", cancel, { once: true });
    try {
      for (;;) {
        if (this.#anyBehind()) await this.#room();
        if (signal.aborted) break;
        this.#watchdog.waiting();
        const next = await reader.read();
        if (signal.aborted) break;
        if (next.done) return { how: "complete" };
        this.#push(next.value);
      }
    } catch (e) {
      if (!signal.aborted) {
        this.#failure = new BrokenOff(`Upstream broke off the answer: ${(e as Error)?.message}`, e);
        return { how: "broken", error: e };
      }
    } finally {
      signal.removeEventListener("abort", cancel);
    }
    reader.cancel().catch(() => {}); // closes the upstream connection
    const how = signal.reason === "timeout" ? "timeout" : "left";
    this.#failure = new BrokenOff(this.#stopReason().message);
    if (how === "timeout" && isEventStream(response.headers)) {
      this.#push(encoder.encode(errorEvent(this.#stopReason())));
      this.#failure = undefined; // the error event tells SSE clients; their stream then ends
    }
    return { how };
  }

  /** True when a client has a full backlog. */
  #anyBehind(): boolean {
    for (const controller of this.#subscribers.keys()) {
      if (controller.desiredSize! <= 0) return true;
    }
    return false;
  }

  /**
   * Waits until no client has a full backlog, the flight is stopped, or the
   * timeout passes; then those still behind are cut off.
   */
  async #room(): Promise<void> {
    this.#watchdog.paused(); // waiting on a client, not on upstream
    const signal = this.#abort.signal;
    const { promise, resolve } = Promise.withResolvers<void>();
    const stopped = () => resolve();
    const timer = after(this.#limits.idleMs, resolve);
    this.#wake = () => this.#anyBehind() || resolve();
    signal.addEventListener("abort", stopped, { once: true });
    await promise;
    clearTimeout(timer);
    signal.removeEventListener("abort", stopped);
    this.#wake = undefined;
    if (signal.aborted) return;
    for (const [controller, leave] of this.#subscribers) {
      if (controller.desiredSize! > 0) continue;
      controller.error(
        new BrokenOff("The client fell behind for longer than the upstream timeout"),
      );
      leave();
    }
  }

  /** Stops the call, unless `keep` says someone elsewhere still reads it. */
  #lastLeft(): void {
    if (!this.#keep) return this.#stop("left");
    this.#wake?.(); // no client to wait for now
    this.#keep().catch(() => false).then((kept) => {
      if (!kept && this.#listeners === 0 && this.running) this.#stop("left");
    });
  }

  #stop(why: "left" | "timeout"): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(why);
  }

  #stopReason(): HttpError {
    if (this.#abort.signal.reason === "timeout") {
      return silentUpstream(this.#limits.idleMs);
    }
    return new HttpError(499, "api_error", "Every client left, so the upstream call was closed");
  }

  #push(received: Uint8Array): void {
    const chunk = this.#compact(received);
    for (const controller of this.#subscribers.keys()) controller.enqueue(chunk);
    this.#relayed += chunk.byteLength;
    if (this.#oversize) return;
    if (this.#relayed > this.#limits.maxRecordBytes) {
      this.#oversize = true; // relayed from here on, recorded no further
      this.#chunks = [];
      this.#times = [];
      return;
    }
    this.#chunks.push(chunk);
    this.#times.push(performance.now() - this.#startedAt);
  }

  /**
   * `chunk` holding only its own bytes. fetch hands out each chunk as a view
   * of a fresh 64 KiB buffer, so keeping a 100-byte event kept 64 KiB; small
   * chunks are copied into a shared block instead (a copy each would still
   * cost an allocation each). Each block is twice the last: a one-chunk JSON
   * answer fills 4 KiB rather than a zeroed 64 KiB (at 4,000 misses/s, 250 MB/s
   * less to allocate and collect).
   */
  #compact(chunk: Uint8Array): Uint8Array {
    const size = chunk.byteLength;
    if (size * 2 >= chunk.buffer.byteLength) return chunk;
    if (this.#block.byteLength - this.#blockUsed < size) {
      const next = Math.min(BLOCK_BYTES, Math.max(FIRST_BLOCK_BYTES, 2 * this.#block.byteLength));
      this.#block = new Uint8Array(Math.max(next, size));
      this.#blockUsed = 0;
    }
    const kept = this.#block.subarray(this.#blockUsed, this.#blockUsed + size);
    kept.set(chunk);
    this.#blockUsed += size;
    return kept;
  }

  #settle(state: "done" | "failed"): void {
    this.#state = state;
    for (const controller of this.#subscribers.keys()) this.#end(controller);
    this.#subscribers.clear();
  }

  #end(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.#state === "failed" && this.#failure !== undefined) controller.error(this.#failure);
    else controller.close();
  }
}

function isEventStream(headers: Headers): boolean {
  return (headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
}
