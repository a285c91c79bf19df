/**
 * The history behind the dashboard's charts: calls, tokens, dollars and a
 * latency histogram per minute (kept a day) and per hour (kept 30 days), by
 * kind, model and namespace. Like the ledger it reads only call events, sums
 * them in memory and adds what changed to the store once a second, so the hit
 * path never waits on a write. Each call is added to its minute and to its
 * hour at once: the hours need no roll-up job, and old rows are simply dropped.
 *
 * @module
 */
import type { HistoryStore } from "../store/store.ts";
import { HISTORY_KEPT_MS } from "../values/history_row.ts";
import { BIN_MS, SPAN_MS } from "./dashboard/series.js";
import type { CallEvent } from "./events.ts";
import type { CallKind } from "../values/call_kind.ts";
import { addRow, latencyBucket, sumRows } from "./history_row.ts";
import {
  emptyRow,
  type HistoryRow,
  LATENCY_BOUNDS_MS,
  type Resolution,
} from "../values/history_row.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A range `GET /stats/history` serves: `1h`, `6h`, `24h`, `7d` or `30d`. */
export type HistoryRange = keyof typeof SPAN_MS;

/**
 * The ranges `GET /stats/history` serves: how far back, from rows of which
 * resolution, summed into steps as long as the page's bins (a busy day is a
 * hundred rows per kind, model and namespace, not 1,440).
 */
export const HISTORY_RANGES: Readonly<
  Record<HistoryRange, { resolution: Resolution; spanMs: number; stepMs: number }>
> = {
  "1h": { resolution: "minute", spanMs: SPAN_MS["1h"], stepMs: BIN_MS["1h"] },
  "6h": { resolution: "minute", spanMs: SPAN_MS["6h"], stepMs: BIN_MS["6h"] },
  "24h": { resolution: "minute", spanMs: SPAN_MS["24h"], stepMs: BIN_MS["24h"] },
  "7d": { resolution: "hour", spanMs: SPAN_MS["7d"], stepMs: BIN_MS["7d"] },
  "30d": { resolution: "hour", spanMs: SPAN_MS["30d"], stepMs: BIN_MS["30d"] },
};

/** What `GET /stats/history` answers. */
export interface HistoryView {
  readonly range: HistoryRange;
  readonly resolution: Resolution;
  /** Length of one row, ms: rows of `resolution` are summed into steps this long. */
  readonly stepMs: number;
  /** The first step's start, ms since the epoch. */
  readonly from: number;
  readonly to: number;
  readonly latencyBoundsMs: readonly (number | null)[];
  readonly rows: HistoryRow[];
  /** The `seq` of the last call this process counted: later ones are not in `rows`. */
  readonly seq: number;
  /** This process's last calls, oldest first, for the page's "Recent calls" after a reload. */
  readonly recent: readonly CallEvent[];
}

const NO_MODEL = "(none)";
/** Models and namespaces come from clients: past these many, new ones count as one. */
const MAX_MODELS = 100;
const MAX_NAMESPACES = 50;
const OTHER = "(other)";
/** Calls kept for `recent`. */
const RECENT_CALLS = 100;

/** Calls per minute, summed in memory until the next flush. */
type Pending = Map<number, Map<string, HistoryRow>>;

/** Minute and hour figures fed by call events. */
export class History {
  #store: HistoryStore;
  #now: () => number;
  #pending: Pending = new Map();
  /** Flushes and reads, one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setInterval>;
  #models = new Set<string>();
  #namespaces = new Set<string>();
  /** The last calls, a ring from #next. */
  #recent: CallEvent[] = [];
  #next = 0;
  #seq = 0;
  /** Row keys by kind, model and namespace, built once: no string work per call. */
  #dims = new Map<CallKind, Map<string, Map<string, string>>>();

  /**
   * @param store where rows are kept
   * @param options `flushEveryMs` @default 1000; `now`: the clock @default Date.now
   */
  constructor(
    store: HistoryStore,
    options: { readonly flushEveryMs?: number; readonly now?: () => number } = {},
  ) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => this.flush().catch(() => {}), options.flushEveryMs ?? 1000);
    Deno.unrefTimer(Number(this.#timer));
  }

  /** Counts one call in its minute; subscribe this to the event bus. */
  readonly record = (event: CallEvent): void => {
    this.#seq = event.seq;
    this.#recent[this.#next] = event;
    this.#next = (this.#next + 1) % RECENT_CALLS;
    const minute = Math.floor(this.#now() / MINUTE) * MINUTE;
    let rows = this.#pending.get(minute);
    if (!rows) this.#pending.set(minute, rows = new Map());
    const model = capped(this.#models, event.model ?? NO_MODEL, MAX_MODELS);
    const namespace = capped(this.#namespaces, event.namespace ?? "", MAX_NAMESPACES);
    const dim = this.#dimOf(event.kind, model, namespace);
    let row = rows.get(dim);
    if (!row) {
      rows.set(dim, row = emptyRow("minute", minute, event.kind, model, namespace));
    }
    const u = event.usage;
    row.calls++;
    row.tokens += u.input_tokens + u.ephemeral_5m_input_tokens + u.ephemeral_1h_input_tokens +
      u.cache_read_input_tokens + u.output_tokens;
    row.usd += event.dollars;
    row.ms += event.durationMs;
    row.latency[latencyBucket(event.durationMs)]!++;
  };

  #dimOf(kind: CallKind, model: string, namespace: string): string {
    let byModel = this.#dims.get(kind);
    if (!byModel) this.#dims.set(kind, byModel = new Map());
    let byNamespace = byModel.get(model);
    if (!byNamespace) byModel.set(model, byNamespace = new Map());
    let dim = byNamespace.get(namespace);
    if (dim === undefined) byNamespace.set(namespace, dim = `${kind}\t${model}\t${namespace}`);
    return dim;
  }

  /** Writes the minutes counted since the last flush, each to its minute and its hour. */
  flush(): Promise<void> {
    return this.#alone(async () => {
      if (this.#pending.size === 0) return;
      const batch = this.#pending;
      this.#pending = new Map();
      const now = this.#now();
      const dropBefore = {
        minute: now - HISTORY_KEPT_MS.minute,
        hour: now - HISTORY_KEPT_MS.hour,
      };
      try {
        await this.#store.addHistory(withHours(batch), dropBefore);
      } catch (e) {
        this.#pending = merged(batch, this.#pending); // kept for the next flush
        throw e;
      }
    });
  }

  /**
   * The rows of a range, stored ones plus what this process counted and has
   * not written yet. It waits for a flush under way, and none starts until
   * the store has answered, so no call is counted twice or missed.
   *
   * @param range one of {@link HISTORY_RANGES}
   * @returns the view `GET /stats/history` answers
   */
  read(range: HistoryRange): Promise<HistoryView> {
    const { resolution, spanMs, stepMs: step } = HISTORY_RANGES[range];
    return this.#alone(async () => {
      const to = this.#now();
      const from = Math.floor((to - spanMs) / step) * step;
      const seq = this.#seq;
      const recent = [...this.#recent.slice(this.#next), ...this.#recent.slice(0, this.#next)];
      const unsaved = withHours(this.#pending).filter((row) => row.resolution === resolution);
      const stored = await this.#store.readHistory(resolution, from);
      const stepOf = (start: number) => Math.floor(start / step) * step;
      return {
        range,
        resolution,
        stepMs: step,
        from,
        to,
        latencyBoundsMs: LATENCY_BOUNDS_MS.map((b) => (Number.isFinite(b) ? b : null)),
        rows: sumRows([...stored, ...unsaved].map((row) => ({ ...row, start: stepOf(row.start) })))
          .filter((row) => row.start >= from),
        seq,
        recent,
      };
    });
  }

  /** Runs `work` after every flush and read before it has ended. */
  #alone<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}

/**
 * Whether `text` names a range `GET /stats/history` serves.
 *
 * @param text the `range` query parameter
 * @returns true for `1h`, `6h`, `24h`, `7d` or `30d`
 */
export function isHistoryRange(text: string): text is HistoryRange {
  return Object.hasOwn(HISTORY_RANGES, text);
}

function withHours(minutes: Pending): HistoryRow[] {
  const rows = [...minutes.values()].flatMap((byDim) => [...byDim.values()]);
  const hours = rows.map((row) => ({
    ...row,
    resolution: "hour" as const,
    start: Math.floor(row.start / HOUR) * HOUR,
    latency: [...row.latency],
  }));
  return [...rows, ...sumRows(hours)];
}

function merged(a: Pending, b: Pending): Pending {
  const out: Pending = new Map();
  for (const source of [a, b]) {
    for (const [minute, rows] of source) {
      let target = out.get(minute);
      if (!target) out.set(minute, target = new Map());
      for (const [dim, row] of rows) {
        const sum = target.get(dim);
        if (sum) addRow(sum, row);
        else target.set(dim, { ...row, latency: [...row.latency] });
      }
    }
  }
  return out;
}

function capped(seen: Set<string>, name: string, max: number): string {
  if (seen.has(name)) return name;
  if (seen.size >= max) return OTHER;
  seen.add(name);
  return name;
}
