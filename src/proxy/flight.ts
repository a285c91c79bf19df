/**
 * In-flight coalescing: one upstream call per cache key at a time. The first
 * request (the leader) starts a {@link Flight}; identical requests that arrive
 * while it runs join it and receive the bytes already received, then the rest
 * live. The flight, not any one client, owns the upstream call: it is aborted
 * only when nobody is listening any more.
 *
 * @module
 */
import type { Recording } from "../cache/recorder.ts";

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
  /** Stops listening; idempotent. The last listener to leave aborts the upstream call. */
  leave(): void;
}

/** Calls upstream; must resolve to a response (errors become e.g. a 502), never reject. */
export type UpstreamCall = (signal: AbortSignal) => Promise<Response>;

/**
 * Runs once the body has ended or broken off (`complete` false), before
 * clients see the end; what it returns becomes {@link Flight.ended}.
 */
export type FlightEnd<T> = (recording: Recording, complete: boolean) => Promise<T>;

/** One upstream call and the clients listening to it. */
export class Flight<T = void> {
  /** Resolves once upstream has answered with a status. */
  readonly head: Promise<FlightHead>;
  /** Resolves with the end handler's result once the body has ended or broken off. */
  readonly ended: Promise<T>;
  #chunks: Uint8Array[] = [];
  /** When each chunk arrived, in ms after the upstream call started. */
  #times: number[] = [];
  #startedAt = performance.now();
  #state: "running" | "done" | "failed" = "running";
  #failure: unknown;
  #listeners = 0;
  #abort = new AbortController();
  #subscribers = new Set<ReadableStreamDefaultController<Uint8Array>>();

  /**
   * Starts the upstream call at once.
   *
   * @param call makes the upstream request
   * @param onEnd receives the recording when the body ends
   */
  constructor(call: UpstreamCall, onEnd: FlightEnd<T>) {
    const head = Promise.withResolvers<FlightHead>();
    this.head = head.promise;
    this.ended = this.#run(call, onEnd, head.resolve);
  }

  /** True until the body has ended or broken off. */
  get running(): boolean {
    return this.#state === "running";
  }

  /** True while a new client may still join: running and not being aborted. */
  get joinable(): boolean {
    return this.running && !this.#abort.signal.aborted;
  }

  /**
   * Adds a listener: it gets every chunk received so far at once, then each
   * new one as it arrives. Chunks are pushed, never waited for, so a slow
   * client never holds back the others or the recording.
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
      if (--this.#listeners === 0 && this.running) this.#abort.abort();
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        for (const chunk of this.#chunks) c.enqueue(chunk);
        if (this.running) this.#subscribers.add(c);
        else this.#end(c);
      },
      cancel: leave,
    });
    return { stream, leave };
  }

  async #run(
    call: UpstreamCall,
    onEnd: FlightEnd<T>,
    setHead: (head: FlightHead) => void,
  ): Promise<T> {
    const response = await call(this.#abort.signal);
    setHead({ status: response.status, headers: response.headers });
    let complete = true;
    try {
      if (response.body) {
        for await (const chunk of response.body) this.#push(chunk);
      }
    } catch (e) {
      this.#failure = e;
      complete = false;
    }
    const recording = {
      status: response.status,
      headers: response.headers,
      chunks: this.#chunks,
      times: this.#times,
    };
    try {
      return await onEnd(recording, complete);
    } finally {
      this.#settle(complete ? "done" : "failed");
    }
  }

  #push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#times.push(performance.now() - this.#startedAt);
    for (const controller of this.#subscribers) controller.enqueue(chunk);
  }

  #settle(state: "done" | "failed"): void {
    this.#state = state;
    for (const controller of this.#subscribers) this.#end(controller);
    this.#subscribers.clear();
  }

  #end(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.#state === "failed") controller.error(this.#failure);
    else controller.close();
  }
}

/** The flights under way, by cache key. */
export class Flights<T = void> {
  #byKey = new Map<string, Flight<T>>();

  /**
   * The flight for `key` that a new client may join, if any.
   *
   * @param key the cache key
   * @returns the flight to join, or undefined
   */
  get(key: string): Flight<T> | undefined {
    const flight = this.#byKey.get(key);
    return flight?.joinable ? flight : undefined;
  }

  /**
   * Starts a flight for `key`; it is forgotten once its end handler has run,
   * so a request arriving meanwhile joins it rather than calling upstream again.
   *
   * @param key the cache key
   * @param call makes the upstream request
   * @param onEnd receives the recording when the body ends
   * @returns the new flight
   */
  start(key: string, call: UpstreamCall, onEnd: FlightEnd<T>): Flight<T> {
    const flight: Flight<T> = new Flight(call, async (recording, complete) => {
      try {
        return await onEnd(recording, complete);
      } finally {
        if (this.#byKey.get(key) === flight) this.#byKey.delete(key);
      }
    });
    this.#byKey.set(key, flight);
    return flight;
  }
}
