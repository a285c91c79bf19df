// @ts-check
/**
 * The dashboard's figures over time, from the rows of `GET /stats/history`
 * and the live calls of `/monitor`: filtered, put in bins, with latency
 * percentiles from the fixed histogram each row carries. Pure functions,
 * shared by the page and the proxy (the latency buckets) and tested in Deno.
 *
 * @module
 */
import { HIT_KIND_NAMES } from "../../values/hit_kinds.js";

/**
 * One kind, model and namespace over one minute or hour, as `/stats/history` sends it.
 *
 * @typedef {object} Row
 * @property {number} start ms since the epoch
 * @property {string} kind
 * @property {string} model
 * @property {string} namespace
 * @property {number} calls
 * @property {number} tokens
 * @property {number} usd
 * @property {number} ms
 * @property {number[]} latency calls per latency bucket
 */

/**
 * What to keep: `""` for any; `kind` may also be `hits` (every kind served from the cache).
 *
 * @typedef {{ kind: string, model: string, namespace: string }} Filter
 */

/**
 * The figures of one bin of the chart.
 *
 * @typedef {object} Bin
 * @property {number} start ms since the epoch
 * @property {number} hits
 * @property {number} misses
 * @property {number} bypassed BYPASS and PASS: calls that did not use the cache
 * @property {number} errors
 * @property {number} usdSaved
 * @property {number} usdSpent
 * @property {number[]} hitLatency
 * @property {number[]} missLatency
 */

/**
 * Kinds answered from the cache: the proxy's own list.
 *
 * @type {ReadonlySet<string>}
 */
export const HIT_KINDS = new Set(HIT_KIND_NAMES);

/** Width of the chart's bins by range: 48 to 120 bins each. */
export const BIN_MS = /** @type {const} */ ({
  "1h": 60_000,
  "6h": 300_000,
  "24h": 900_000,
  "7d": 7_200_000,
  "30d": 21_600_000,
});

/** How far back each range reaches. */
export const SPAN_MS = /** @type {const} */ ({
  "1h": 3_600_000,
  "6h": 21_600_000,
  "24h": 86_400_000,
  "7d": 604_800_000,
  "30d": 2_592_000_000,
});

/** @typedef {keyof typeof SPAN_MS} Range */

/**
 * The bucket a duration falls in: the first whose upper bound holds it; the
 * last bucket (bound `null` or `Infinity`) holds everything longer.
 *
 * @param {number} ms a duration
 * @param {readonly (number | null)[]} bounds upper bounds, ascending
 * @returns {number} the bucket's index
 */
export function latencyBucket(ms, bounds) {
  let i = 0;
  for (; i < bounds.length - 1; i++) {
    const bound = bounds[i];
    if (bound === null || bound === undefined || ms <= bound) break;
  }
  return i;
}

/**
 * Adds `row`'s figures to `into`.
 *
 * @param {Row} into the row that grows
 * @param {Row} row the figures to add
 */
export function addRow(into, row) {
  into.calls += row.calls;
  into.tokens += row.tokens;
  into.usd += row.usd;
  into.ms += row.ms;
  row.latency.forEach((n, i) => into.latency[i] = (into.latency[i] ?? 0) + n);
}

/**
 * Rows summed by bin, kind, model and namespace: what the page holds, one row
 * per bin however many calls arrive live.
 */
export class RowSet {
  /** @type {Map<string, Row>} */
  #rows = new Map();
  #binMs;

  /** @param {number} binMs the bins' length */
  constructor(binMs) {
    this.#binMs = binMs;
  }

  /** Adds a row to the row of its bin. @param {Row} row */
  add(row) {
    const start = Math.floor(row.start / this.#binMs) * this.#binMs;
    const key = `${start}\t${row.kind}\t${row.model}\t${row.namespace}`;
    const have = this.#rows.get(key);
    if (have) addRow(have, row);
    else this.#rows.set(key, { ...row, start, latency: [...row.latency] });
  }

  /** Forgets the rows of bins that start before `start`. @param {number} start */
  dropBefore(start) {
    for (const [key, row] of this.#rows) if (row.start < start) this.#rows.delete(key);
  }

  /** @returns {Row[]} the rows, in no particular order */
  list() {
    return [...this.#rows.values()];
  }
}

/**
 * Whether a row or call passes the filter.
 *
 * @param {{ kind: string, model: string | null, namespace?: string | undefined }} row
 * @param {Filter} filter
 * @returns {boolean}
 */
export function matches(row, filter) {
  if (filter.kind === "hits" ? !HIT_KINDS.has(row.kind) : filter.kind && filter.kind !== row.kind) {
    return false;
  }
  if (filter.model && filter.model !== (row.model ?? "(none)")) return false;
  return !filter.namespace || filter.namespace === (row.namespace ?? "");
}

/**
 * Puts rows in bins of `binMs`, the first the one that holds `from`, the last
 * the one that holds `to`, keeping those that pass the filter.
 *
 * @param {readonly Row[]} rows
 * @param {Filter} filter
 * @param {{ from: number, to: number, binMs: number, buckets: number }} span
 * @returns {Bin[]} one bin per step, oldest first, empty ones included
 */
export function binRows(rows, filter, span) {
  const first = Math.floor(span.from / span.binMs) * span.binMs;
  /** @type {Bin[]} */
  const bins = [];
  for (let start = first; start <= span.to; start += span.binMs) {
    const zeros = () => new Array(span.buckets).fill(0);
    bins.push({
      start,
      hits: 0,
      misses: 0,
      bypassed: 0,
      errors: 0,
      usdSaved: 0,
      usdSpent: 0,
      hitLatency: zeros(),
      missLatency: zeros(),
    });
  }
  for (const row of rows) {
    const bin = bins[Math.floor((row.start - first) / span.binMs)];
    if (!bin || !matches(row, filter)) continue; // no bin: before the first or after now
    const hit = HIT_KINDS.has(row.kind);
    if (hit) bin.hits += row.calls;
    else if (row.kind === "MISS") bin.misses += row.calls;
    else if (row.kind === "ERROR") bin.errors += row.calls;
    else bin.bypassed += row.calls;
    if (hit) bin.usdSaved += row.usd;
    else bin.usdSpent += row.usd;
    const latency = hit ? bin.hitLatency : row.kind === "MISS" ? bin.missLatency : undefined;
    if (latency) row.latency.forEach((n, i) => latency[i] = (latency[i] ?? 0) + n);
  }
  return bins;
}

/**
 * A percentile from a latency histogram, interpolated inside its bucket
 * (the open last bucket counts as its lower bound).
 *
 * @param {readonly number[]} histogram calls per bucket
 * @param {readonly (number | null)[]} bounds the buckets' upper bounds
 * @param {number} q 0 to 1, e.g. 0.95
 * @returns {number | null} ms; null without calls
 */
export function percentile(histogram, bounds, q) {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const n = histogram[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1] ?? 0;
      const upper = bounds[i] ?? lower;
      return lower + (upper - lower) * Math.max(0, rank - seen) / n;
    }
    seen += n;
  }
  return bounds[bounds.length - 2] ?? 0;
}

/**
 * Adds histograms bucket by bucket.
 *
 * @param {readonly (readonly number[])[]} histograms
 * @returns {number[]}
 */
export function sumHistograms(histograms) {
  /** @type {number[]} */
  const sum = [];
  for (const h of histograms) h.forEach((n, i) => sum[i] = (sum[i] ?? 0) + n);
  return sum;
}

/**
 * A live call as a history row of its minute, to add to the rows the page holds.
 *
 * @param {{ kind: string, model: string | null, namespace?: string, durationMs: number,
 *   dollars: number, usage?: Record<string, number> }} call a `/monitor` call event
 * @param {readonly (number | null)[]} bounds the latency buckets' upper bounds
 * @param {number} now ms since the epoch
 * @returns {Row}
 */
export function rowOfCall(call, bounds, now) {
  const latency = new Array(bounds.length).fill(0);
  latency[latencyBucket(call.durationMs, bounds)] = 1;
  const u = call.usage ?? {};
  // As the proxy counts them: cache writes once, through their 5m/1h split.
  const tokens = (u.input_tokens ?? 0) + (u.ephemeral_5m_input_tokens ?? 0) +
    (u.ephemeral_1h_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0) + (u.output_tokens ?? 0);
  return {
    start: Math.floor(now / 60_000) * 60_000,
    kind: call.kind,
    model: call.model ?? "(none)",
    namespace: call.namespace ?? "",
    calls: 1,
    tokens,
    usd: call.dollars,
    ms: call.durationMs,
    latency,
  };
}
