/**
 * One typed event per served call. The cached route and the pass-through emit
 * it; the ledger, the monitor, the log and the metrics each subscribe and read
 * that one event. Nothing else counts calls.
 *
 * @module
 */
import type { CallKind } from "../values/call_kind.ts";
import type { Usage } from "../values/usage.ts";

/** One served call. */
export interface CallEvent {
  /** Monotonic within this process, from 1. */
  readonly seq: number;
  /** When the call ended (ISO 8601). */
  readonly time: string;
  readonly kind: CallKind;
  /** The request's model, if it named one. */
  readonly model: string | null;
  /** Request path, without the query. */
  readonly path: string;
  /** HTTP status sent to the client. */
  readonly status: number;
  /** Body bytes sent to the client. */
  readonly bytes: number;
  /** From the request's arrival to the end of the answer. */
  readonly durationMs: number;
  /** Token usage of the answer (of the original call, for a hit). */
  readonly usage: Usage;
  /** What the answer cost: saved on a hit, spent otherwise. */
  readonly dollars: number;
  /** The first 80 characters of the answer text. */
  readonly snippet: string;
  /** The first 12 hex digits of the cache key, for the cached route. */
  readonly key: string | null;
  /**
   * Set on the call that made an upstream call whose answer outgrew
   * CACHE_MAX_ANSWER_BYTES: relayed, not stored. Once per answer.
   */
  readonly oversize?: boolean;
  /** The key space of a cached call (`x-cache-namespace`), `""` for the default one. */
  readonly namespace?: string;
}

/** A call as the proxy reports it; the bus adds `seq`. */
export type CallReport = Omit<CallEvent, "seq">;

/** Something that reads every event. */
export type Listener = (event: CallEvent) => void;

/** Hands each event to every listener, in `seq` order. */
export class EventBus {
  #seq = 0;
  #listeners = new Set<Listener>();
  #onListenerError: (error: unknown) => void;

  /** @param onListenerError told when a listener throws; the others still run */
  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /**
   * Numbers a call and hands it to every listener, synchronously.
   *
   * @param report the call; it becomes the event (numbered in place), so do not reuse it
   * @returns the event as emitted
   */
  emit(report: CallReport): CallEvent {
    // The report becomes the event: numbering it in place saves a copy per call.
    const event = report as CallReport & { seq: number };
    event.seq = ++this.#seq;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (e) {
        this.#onListenerError(e);
      }
    }
    return event;
  }

  /**
   * Adds a listener.
   *
   * @param listener called with every later event
   * @returns a function that removes it
   */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
