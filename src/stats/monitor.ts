/**
 * The live monitor behind `GET /monitor`: an SSE stream per client, a
 * `connected` event, then one `call` event per served call in `seq` order.
 * Each event is encoded once, and only while someone watches, straight into
 * the batch's bytes; events are sent in batches every `batchMs` (25 ms), one
 * chunk per batch, so a busy proxy does not write to every watcher's socket
 * once per call. A client whose queue fills up (stalled or too slow) is
 * dropped rather than ever slowing the proxy or growing its memory.
 *
 * @module
 */
import { eventJson } from "./event_json.ts";
import type { CallEvent } from "./events.ts";

/** Chunks (batches) a client may fall behind before it is dropped. */
const MAX_QUEUED = 256;
/** Comment lines keep idle connections (and proxies between) open. */
const KEEP_ALIVE_MS = 15_000;
/** The batch buffer's first size; it doubles when a frame does not fit. */
const FIRST_BATCH_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** Fans call events out to SSE clients. */
export class Monitor {
  #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #lastSeq = 0;
  #startedAt: string;
  #batchMs: number;
  /** The batch's frames as UTF-8, and how much of the buffer they fill. */
  #batch = new Uint8Array(0);
  #batched = 0;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param startedAt when this process started (ISO 8601)
   * @param options `batchMs`: how long events gather before they are sent (0: at once) @default 25
   */
  constructor(startedAt: string, options: { batchMs?: number } = {}) {
    this.#startedAt = startedAt;
    this.#batchMs = options.batchMs ?? 25;
  }

  /** Number of connected clients. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Sends one event to every client; subscribe this to the event bus. */
  readonly publish = (event: CallEvent): void => {
    this.#lastSeq = event.seq;
    if (this.#clients.size === 0) return;
    this.#append(`event: call\ndata: ${eventJson(event)}\n\n`);
    if (this.#batchMs === 0) this.#flush();
    else this.#flushTimer ??= setTimeout(() => this.#flush(), this.#batchMs);
  };

  /**
   * Encodes a frame straight into the batch. Joining a batch's strings and
   * encoding the result built a string of ~500 KB per batch at 45k calls/s
   * (a large object for the collector) and copied every frame twice.
   */
  #append(frame: string): void {
    const room = frame.length * 3; // UTF-8 bytes at most per UTF-16 unit
    if (this.#batch.byteLength - this.#batched < room) {
      const grown = new Uint8Array(
        Math.max(2 * this.#batch.byteLength, this.#batched + room, FIRST_BATCH_BYTES),
      );
      grown.set(this.#batch.subarray(0, this.#batched));
      this.#batch = grown;
    }
    this.#batched += encoder.encodeInto(frame, this.#batch.subarray(this.#batched)).written;
  }

  #flush(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#batched === 0) return;
    const frames = this.#batch.slice(0, this.#batched);
    this.#batched = 0;
    this.#broadcast(frames);
  }

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

  /** Ends every client stream (at shutdown), after what is batched. */
  close(): void {
    this.#flush();
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
    if (this.#clients.size > 0) return;
    this.#batch = new Uint8Array(0);
    this.#batched = 0;
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}
