/**
 * The ledger: counters of calls, tokens and dollars by kind and model, for
 * this process (`session`) and for all time. It reads only call events, keeps
 * everything in memory, and adds what changed to the store once a second, so
 * the hit path never waits on a disk write and start-up reads a few rows, not
 * a history. A `kill -9` loses at most the last second.
 *
 * @module
 */
import type { CounterStore } from "../store/store.ts";
import type { CallEvent } from "./events.ts";
import type { CallKind } from "../values/call_kind.ts";
import {
  addSummary,
  type Counters,
  METRICS,
  parseName,
  type Summary,
  type Totals,
  totalsOf,
  withRatios,
} from "./totals.ts";

/** The last call served, as `/stats` shows it. */
export type LastCall = Pick<CallEvent, "time" | "kind" | "model" | "status">;

/**
 * Counters kept beside the ledger's own (they name no metric it counts):
 * how many entries `import --from-v2` stored, which turns the v2 tier on,
 * and the time of the last v2 ledger line imported, so a second import adds
 * nothing twice.
 */
export const V2_COUNTERS = { entries: "v2\tentries\t", ledgerUntil: "v2\tledger-until\t" };

const NO_MODEL = "(none)";
/** Model names come from clients: past this many, new ones are counted as one. */
const MAX_MODELS = 200;
const OTHER_MODELS = "(other)";

/** Session and all-time counters fed by call events. */
export class Ledger {
  #allTime: Counters;
  #session: Counters = new Map();
  #pending: Counters = new Map();
  #store: CounterStore;
  #timer: ReturnType<typeof setInterval>;
  #models = new Set<string>();
  #summary: Summary;
  #last: CallEvent | undefined;
  /** The three counter names of each kind and model, built once: no string work per call. */
  #names = new Map<CallKind, Map<string, readonly string[]>>();

  private constructor(store: CounterStore, persisted: Counters, flushEveryMs: number) {
    this.#store = store;
    this.#allTime = persisted;
    const { byKind: _byKind, models: _models, ...summary } = totalsOf(persisted);
    this.#summary = summary;
    for (const name of persisted.keys()) this.#models.add(parseName(name).model);
    this.#timer = setInterval(() => this.flush().catch(() => {}), flushEveryMs);
    Deno.unrefTimer(Number(this.#timer));
  }

  /**
   * Opens the ledger on the counters already persisted.
   *
   * @param store where all-time counters live
   * @param options `flushEveryMs`: how often deltas are written @default 1000
   * @returns the ledger
   */
  static async open(store: CounterStore, options: { flushEveryMs?: number } = {}): Promise<Ledger> {
    return new Ledger(store, await store.readCounters(), options.flushEveryMs ?? 1000);
  }

  /**
   * The last call this process served.
   *
   * @returns when it was, what it was and its status, or undefined before the first
   */
  lastCall(): LastCall | undefined {
    const e = this.#last;
    return e && { time: e.time, kind: e.kind, model: e.model, status: e.status };
  }

  /** Counts one call; subscribe this to the event bus. */
  readonly record = (event: CallEvent): void => {
    const u = event.usage; // cache writes count once, through their 5m/1h split
    const tokens = u.input_tokens + u.ephemeral_5m_input_tokens + u.ephemeral_1h_input_tokens +
      u.cache_read_input_tokens + u.output_tokens;
    const values = [1, tokens, event.dollars, u.input_tokens, u.output_tokens];
    const names = this.#namesOf(event.kind, this.#modelName(event.model));
    for (let i = 0; i < METRICS.length; i++) {
      addSummary(this.#summary, METRICS[i]!, event.kind, values[i]!);
      this.#bump(names[i]!, values[i]!);
    }
    this.#last = event;
  };

  #bump(name: string, value: number): void {
    this.#allTime.set(name, (this.#allTime.get(name) ?? 0) + value);
    this.#session.set(name, (this.#session.get(name) ?? 0) + value);
    this.#pending.set(name, (this.#pending.get(name) ?? 0) + value);
  }

  #namesOf(kind: CallKind, model: string): readonly string[] {
    let byModel = this.#names.get(kind);
    if (!byModel) this.#names.set(kind, byModel = new Map());
    let names = byModel.get(model);
    if (!names) byModel.set(model, names = METRICS.map((metric) => `${metric}\t${kind}\t${model}`));
    return names;
  }

  #modelName(model: string | null): string {
    const name = model ?? NO_MODEL;
    if (this.#models.has(name)) return name;
    if (this.#models.size >= MAX_MODELS) return OTHER_MODELS;
    this.#models.add(name);
    return name;
  }

  /**
   * The all-time totals without breakdowns, kept up to date call by call:
   * cheap enough to read for every log line.
   *
   * @returns the running summary
   */
  summary(): Summary {
    return withRatios({ ...this.#summary });
  }

  /**
   * A counter of the store by name, as of the last flush (e.g. one of {@link V2_COUNTERS}).
   *
   * @param name the counter
   * @returns its value, 0 when unset
   */
  counter(name: string): number {
    return this.#allTime.get(name) ?? 0;
  }

  /** Totals since this process started. */
  session(): Totals {
    return totalsOf(this.#session);
  }

  /** Totals of all time, this session included. */
  allTime(): Totals {
    return totalsOf(this.#allTime);
  }

  /**
   * The all-time counters as kept: `metric\tkind\tmodel` → value, where
   * metric is `calls`, `tokens` or `usd` and model is `(none)` when unknown.
   *
   * @returns a read-only view
   */
  counters(): ReadonlyMap<string, number> {
    return this.#allTime;
  }

  /**
   * Writes the counters changed since the last flush, then reads the stored
   * totals back: other processes on the same store (a fleet on one Redis, or
   * two proxies on one SQLite file) add to them too, and all-time means theirs.
   */
  async flush(): Promise<void> {
    const deltas = this.#pending;
    this.#pending = new Map();
    try {
      if (deltas.size > 0) await this.#store.addCounters(deltas);
    } catch (e) {
      for (const [name, value] of deltas) {
        this.#pending.set(name, (this.#pending.get(name) ?? 0) + value);
      }
      throw e;
    }
    this.#adopt(await this.#store.readCounters());
  }

  /** Takes the stored totals as all-time, plus what was counted since the flush began. */
  #adopt(persisted: Counters): void {
    for (const [name, value] of this.#pending) {
      persisted.set(name, (persisted.get(name) ?? 0) + value);
    }
    this.#allTime = persisted;
    const { byKind: _byKind, models: _models, ...summary } = totalsOf(persisted);
    this.#summary = summary;
    for (const name of persisted.keys()) {
      if (this.#models.size < MAX_MODELS) this.#models.add(parseName(name).model);
    }
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
