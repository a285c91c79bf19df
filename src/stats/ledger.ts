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
import { type CallEvent, type CallKind, HIT_KINDS } from "./events.ts";

/** Totals for one model. */
export interface ModelTotals {
  calls: number;
  hits: number;
  misses: number;
  errors: number;
  tokensSaved: number;
  tokensSpent: number;
  usdSaved: number;
  usdSpent: number;
}

/** Totals over a period without their breakdowns. */
export interface Summary extends ModelTotals {
  /** Misses that bypassed the cache (cache off, `x-cache-bypass`), counted in `misses` too. */
  bypassed: number;
  /** Hits that joined a call under way (`HIT-COALESCED`), counted in `hits` too. */
  coalesced: number;
  /** Calls passed through uncached (`/v1/*` routes the cache does not serve); not in `calls`. */
  passed: number;
  /** Input and output tokens (no cache tokens) answered from the cache, as v2 counted them. */
  savedIn: number;
  savedOut: number;
  /** Input and output tokens (no cache tokens) paid for upstream, as v2 counted them. */
  spentIn: number;
  spentOut: number;
  /** Hits over hits plus misses, 0 to 1. */
  hitRate: number;
  /** Dollars saved over dollars saved plus spent, in percent. */
  savingsPct: number;
}

/** The last call served, as `/stats` shows it. */
export type LastCall = Pick<CallEvent, "time" | "kind" | "model" | "status">;

/** Totals over a period, as `/stats` shows them. */
export interface Totals extends Summary {
  byKind: Partial<Record<CallKind, number>>;
  models: Record<string, ModelTotals>;
}

/**
 * Counters kept beside the ledger's own (they name no metric it counts):
 * how many entries `import --from-v2` stored, which turns the v2 tier on,
 * and the time of the last v2 ledger line imported, so a second import adds
 * nothing twice.
 */
export const V2_COUNTERS = { entries: "v2\tentries\t", ledgerUntil: "v2\tledger-until\t" };

/** What is counted for each kind and model: calls, tokens (cache tokens included), dollars,
 * and input and output tokens alone (v2's token figures). */
const METRICS = ["calls", "tokens", "usd", "in", "out"] as const;
const NO_MODEL = "(none)";
/** Model names come from clients: past this many, new ones are counted as one. */
const MAX_MODELS = 200;
const OTHER_MODELS = "(other)";

/** Counters by `metric\tkind\tmodel`. */
type Counters = Map<string, number>;

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

/**
 * The totals within a larger object that carries them (such as `GET /stats`'s body).
 *
 * @param body an object with every field of {@link Totals}
 * @returns just those fields
 */
export function pickTotals(body: Totals): Totals {
  const totals = { ...emptySummary(), byKind: body.byKind, models: body.models };
  for (const name of Object.keys(totals) as (keyof Summary)[]) {
    if (typeof body[name] === "number") totals[name] = body[name];
  }
  return totals;
}

function totalsOf(counters: Counters): Totals {
  const totals: Totals = { ...emptySummary(), byKind: {}, models: {} };
  for (const [name, value] of counters) {
    const { metric, kind, model } = parseName(name);
    if (!(METRICS as readonly string[]).includes(metric)) continue;
    const perModel = totals.models[model] ??= emptyModel();
    addSummary(totals, metric, kind, value);
    add(perModel, metric, kind, value);
    if (metric === "calls") totals.byKind[kind] = (totals.byKind[kind] ?? 0) + value;
  }
  for (const perModel of Object.values(totals.models)) roundUsd(perModel);
  return withRatios(totals);
}

/** Dollars without the noise of summing floats (0.00039999999999999996 → 0.0004). */
function roundUsd(target: ModelTotals): void {
  target.usdSaved = Math.round(target.usdSaved * 1e10) / 1e10;
  target.usdSpent = Math.round(target.usdSpent * 1e10) / 1e10;
}

function withRatios<T extends Summary>(totals: T): T {
  roundUsd(totals);
  const decided = totals.hits + totals.misses;
  totals.hitRate = decided === 0 ? 0 : totals.hits / decided;
  const dollars = totals.usdSaved + totals.usdSpent;
  totals.savingsPct = dollars === 0 ? 0 : (100 * totals.usdSaved) / dollars;
  return totals;
}

/** Splits `metric\tkind\tmodel`; the model may itself hold tabs. */
function parseName(name: string): { metric: string; kind: CallKind; model: string } {
  const first = name.indexOf("\t");
  const second = name.indexOf("\t", first + 1);
  return {
    metric: name.slice(0, first),
    kind: name.slice(first + 1, second) as CallKind,
    model: name.slice(second + 1),
  };
}

/**
 * Adds to the per-model figures. Counts follow llm-cache-proxy v2, so that its
 * readers keep their meaning: `calls` is hits plus misses plus errors; a miss
 * is any call sent upstream to be answered, a bypassed one included; a
 * pass-through of an uncached route is not a call of the cache.
 */
function add(target: ModelTotals, metric: string, kind: CallKind, value: number): void {
  const hit = HIT_KINDS.has(kind);
  if (kind === "PASS") return;
  if (metric === "calls") {
    target.calls += value;
    if (hit) target.hits += value;
    else if (kind === "MISS" || kind === "BYPASS") target.misses += value;
    else if (kind === "ERROR") target.errors += value;
  } else if (metric === "tokens") {
    if (hit) target.tokensSaved += value;
    else target.tokensSpent += value;
  } else if (metric === "usd") {
    if (hit) target.usdSaved += value;
    else target.usdSpent += value;
  }
}

/** Adds to the summary: the per-model figures plus the breakdowns only a summary has. */
function addSummary(target: Summary, metric: string, kind: CallKind, value: number): void {
  add(target, metric, kind, value);
  const hit = HIT_KINDS.has(kind);
  if (metric === "calls") {
    if (kind === "BYPASS") target.bypassed += value;
    else if (kind === "HIT-COALESCED") target.coalesced += value;
    else if (kind === "PASS") target.passed += value;
  } else if (kind !== "PASS" && metric === "in") {
    if (hit) target.savedIn += value;
    else target.spentIn += value;
  } else if (kind !== "PASS" && metric === "out") {
    if (hit) target.savedOut += value;
    else target.spentOut += value;
  }
}

function emptySummary(): Summary {
  return {
    ...emptyModel(),
    bypassed: 0,
    coalesced: 0,
    passed: 0,
    savedIn: 0,
    savedOut: 0,
    spentIn: 0,
    spentOut: 0,
    hitRate: 0,
    savingsPct: 0,
  };
}

function emptyModel(): ModelTotals {
  return {
    calls: 0,
    hits: 0,
    misses: 0,
    errors: 0,
    tokensSaved: 0,
    tokensSpent: 0,
    usdSaved: 0,
    usdSpent: 0,
  };
}
