/**
 * The Prometheus text exposition (format 0.0.4) served at `GET /metrics`.
 * Counters are read from the ledger when rendering; the only state kept here
 * is two latency histograms, fed by call events.
 *
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 * @module
 */
import { type CallEvent } from "./events.ts";
import { HIT_KINDS } from "../values/call_kind.ts";
import type { Totals } from "./totals.ts";
import { type V2Counters, v2Counters } from "./v2_view.ts";

/** The `content-type` of {@linkcode Metrics.render}'s text. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What {@linkcode Metrics.render} shows besides the histograms. */
export interface MetricsInput {
  /** The ledger's all-time counters: `metric\tkind\tmodel` → value. */
  readonly counters: ReadonlyMap<string, number>;
  /** The ledger's all-time totals. */
  readonly totals: Totals;
  /** Entries in the cache store. */
  readonly entries: number;
  /** Bytes the cache store holds. */
  readonly bytes: number;
  /** Seconds since the process started. */
  readonly uptimeSec: number;
}

type Family = "counter" | "gauge" | "histogram";

/** The ledger's metrics, each shown by kind and model. */
const BY_KIND_AND_MODEL = [
  ["calls", "llm_cache_calls_by_kind_total", "Calls served, by how they were served and model."],
  [
    "tokens",
    "llm_cache_tokens_by_kind_total",
    "Tokens of the answers, cache tokens included: saved on a hit, spent otherwise.",
  ],
  [
    "usd",
    "llm_cache_usd_by_kind_total",
    "Dollars of the answers: saved on a hit, spent otherwise.",
  ],
] as const;

/**
 * llm-cache-proxy v2's series, with its names, meaning and no labels, so that
 * a panel or alert written for v2 still shows one series.
 */
const V2_TOTALS: readonly (readonly [string, string, keyof V2Counters])[] = [
  ["llm_cache_calls_total", "Calls served: hits, misses and errors.", "calls"],
  ["llm_cache_hits_total", "Calls answered from the cache.", "hits"],
  ["llm_cache_coalesced_total", "Hits that joined an identical call under way.", "coalesced"],
  ["llm_cache_misses_total", "Calls sent upstream to be answered.", "misses"],
  ["llm_cache_errors_total", "Calls that ended in an error.", "errors"],
  [
    "llm_cache_tokens_saved_total",
    "Input and output tokens answered from the cache.",
    "tokens_saved",
  ],
  ["llm_cache_usd_saved_total", "Dollars not spent thanks to the cache.", "usd_saved"],
  ["llm_cache_usd_spent_total", "Dollars spent upstream.", "usd_spent"],
];

/** Upper bounds of the hit latency buckets, in seconds: 100 µs to 100 ms. */
const HIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
/** Upper bounds of the miss latency buckets, in seconds: 50 ms to 2 min. */
const MISS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Latency histograms fed by call events, and the `/metrics` text. */
export class Metrics {
  readonly #hits = new Histogram(HIT_BUCKETS);
  readonly #misses = new Histogram(MISS_BUCKETS);
  #oversize = 0;

  /** Times a hit or a miss; subscribe this to the event bus. Other counters come from the ledger. */
  readonly record = (event: CallEvent): void => {
    if (event.oversize) this.#oversize++;
    const seconds = event.durationMs / 1000;
    if (HIT_KINDS.has(event.kind)) this.#hits.observe(seconds);
    else if (event.kind === "MISS") this.#misses.observe(seconds);
  };

  /**
   * Renders every metric in the text exposition format.
   *
   * @param input the ledger's counters and totals, and the store's and process's figures
   * @returns the text, to be served as {@linkcode METRICS_CONTENT_TYPE}
   */
  render(input: MetricsInput): string {
    const rows = [...input.counters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const v2 = v2Counters(input.totals);
    return [
      ...BY_KIND_AND_MODEL.map(([metric, name, help]) =>
        family(name, "counter", help, byKindAndModel(name, metric, rows))
      ),
      ...V2_TOTALS.map(([name, help, field]) =>
        family(name, "counter", help, [sample(name, v2[field])])
      ),
      gauge("llm_cache_hit_ratio", "Hits over calls, 0 to 1.", ratio(v2.hit_rate_pct)),
      gauge("llm_cache_entries", "Entries in the cache store.", input.entries),
      gauge("llm_cache_bytes", "Bytes the cache store holds.", input.bytes),
      gauge("llm_cache_uptime_seconds", "Seconds since the proxy started.", input.uptimeSec),
      family(
        "llm_cache_answers_oversize_total",
        "counter",
        "Answers larger than CACHE_MAX_ANSWER_BYTES since the proxy started: relayed, not stored.",
        [sample("llm_cache_answers_oversize_total", this.#oversize)],
      ),
      histogram(
        "llm_cache_hit_duration_seconds",
        "Seconds from a hit's arrival to the end of its answer.",
        this.#hits,
      ),
      histogram(
        "llm_cache_miss_duration_seconds",
        "Seconds from a miss's arrival to the end of its answer, upstream call included.",
        this.#misses,
      ),
    ].join("");
  }
}

/** Counts observations in fixed buckets without allocating. */
class Histogram {
  /** Upper bounds, ascending, ending with `+Inf`. */
  readonly #bounds: Float64Array;
  /** Observations per bucket (not cumulative). */
  readonly #counts: Float64Array;
  #sum = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = Float64Array.from([...bounds, Infinity]);
    this.#counts = new Float64Array(this.#bounds.length);
  }

  observe(value: number): void {
    let i = 0;
    while (value > this.#bounds[i]!) i++; // stops at +Inf at the latest
    this.#counts[i]!++;
    this.#sum += value;
  }

  /** `_bucket` lines (cumulative), `_sum` and `_count`. */
  samples(name: string): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      lines.push(sample(`${name}_bucket`, cumulative, { le: formatValue(bound) }));
    });
    lines.push(sample(`${name}_sum`, this.#sum), sample(`${name}_count`, cumulative));
    return lines;
  }
}

/** One sample line for each kind×model counted under `metric`, from sorted counter rows. */
function byKindAndModel(
  name: string,
  metric: string,
  rows: readonly (readonly [string, number])[],
): string[] {
  return rows.flatMap(([key, value]) => {
    const [rowMetric, kind = "", ...model] = key.split("\t");
    // A model name is client input and may hold a tab: keep it whole.
    return rowMetric === metric ? [sample(name, value, { kind, model: model.join("\t") })] : [];
  });
}

/** v2's ratio: its percentage over 100, four decimals. */
function ratio(pct: number): number {
  return Number((pct / 100).toFixed(4));
}

function gauge(name: string, help: string, value: number): string {
  return family(name, "gauge", help, [sample(name, value)]);
}

function histogram(name: string, help: string, histogram: Histogram): string {
  return family(name, "histogram", help, histogram.samples(name));
}

/** A metric family: its `# HELP` and `# TYPE` lines, then its samples. */
function family(name: string, type: Family, help: string, samples: readonly string[]): string {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples, ""].join("\n");
}

function sample(name: string, value: number, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).map(([label, v]) => `${label}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`;
}

/** Escapes a label value as the format asks: backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** A number as the format spells it: `+Inf`, `-Inf`, `NaN` or a float. */
function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
