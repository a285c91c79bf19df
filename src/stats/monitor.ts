/**
 * The live monitor behind `GET /monitor`: an SSE stream per client, a
 * `connected` event, then one `call` event per served call in `seq` order.
 * Each event is encoded once, and only while someone watches. A client whose
 * queue fills up (stalled or too slow) is dropped rather than ever slowing
 * the proxy or growing its memory.
 *
 * @module
 */
import type { CallEvent } from "./events.ts";

/** Events a client may fall behind before it is dropped. */
const MAX_QUEUED = 256;
/** Comment lines keep idle connections (and proxies between) open. */
const KEEP_ALIVE_MS = 15_000;

const encoder = new TextEncoder();

/** Fans call events out to SSE clients. */
export class Monitor {
  #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #lastSeq = 0;
  #startedAt: string;

  /** @param startedAt when this process started (ISO 8601) */
  constructor(startedAt: string) {
    this.#startedAt = startedAt;
  }

  /** Number of connected clients. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Sends one event to every client; subscribe this to the event bus. */
  readonly publish = (event: CallEvent): void => {
    this.#lastSeq = event.seq;
    if (this.#clients.size === 0) return;
    this.#broadcast(encoder.encode(`event: call\ndata: ${JSON.stringify(event)}\n\n`));
  };

  /**
   * Opens a stream for one client.
   *
   * @returns the SSE body, starting with a `connected` event
   */
  connect(): ReadableStream<Uint8Array> {
    let client: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = controller;
        const hello = { seq: this.#lastSeq, startedAt: this.#startedAt };
        controller.enqueue(encoder.encode(`event: connected\ndata: ${JSON.stringify(hello)}\n\n`));
        this.#clients.add(controller);
        this.#keepAlive ??= setInterval(
          () => this.#broadcast(encoder.encode(": keep-alive\n\n")),
          KEEP_ALIVE_MS,
        );
      },
      cancel: () => this.#drop(client),
    }, new CountQueuingStrategy({ highWaterMark: MAX_QUEUED }));
  }

  /** Ends every client stream (at shutdown). */
  close(): void {
    for (const client of [...this.#clients]) {
      this.#drop(client);
      client.close();
    }
  }

  #broadcast(frame: Uint8Array): void {
    for (const client of this.#clients) {
      if ((client.desiredSize ?? 0) <= 0) {
        this.#drop(client);
        client.error(new Error("monitor client fell too far behind"));
      } else client.enqueue(frame);
    }
  }

  #drop(client: ReadableStreamDefaultController<Uint8Array>): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0 && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}
