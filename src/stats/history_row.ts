/**
 * One row of the dashboard's history: calls, tokens, dollars and a latency
 * histogram of one kind, model and namespace over one minute or hour, and
 * how rows add up. What the history, the stores and the page share.
 *
 * @module
 */
import type { CallKind } from "./events.ts";
import { addRow, latencyBucket as bucketOf } from "./dashboard/series.js";

/** A row's time span. */
export type Resolution = "minute" | "hour";

/**
 * Upper bounds (ms) of the latency histogram's buckets; the last is open-ended.
 * Fixed, so rows of any age and from any process add up bucket by bucket.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1_000,
  2_500,
  5_000,
  10_000,
  30_000,
  60_000,
  Infinity,
];

/** One kind, model and namespace over one minute or hour. */
export interface HistoryRow {
  readonly resolution: Resolution;
  /** Start of the minute or hour, ms since the epoch. */
  readonly start: number;
  readonly kind: CallKind;
  /** `(none)` when the call named no model. */
  readonly model: string;
  /** `""` for the default key space. */
  readonly namespace: string;
  calls: number;
  tokens: number;
  /** Saved for a hit, spent otherwise. */
  usd: number;
  /** Sum of the calls' durations. */
  ms: number;
  /** Calls per bucket of {@link LATENCY_BOUNDS_MS}. */
  latency: number[];
}

/**
 * The bucket of {@link LATENCY_BOUNDS_MS} a duration falls in.
 *
 * @param ms a duration
 * @returns the bucket's index
 */
export function latencyBucket(ms: number): number {
  return bucketOf(ms, LATENCY_BOUNDS_MS);
}

/**
 * A row with nothing counted yet.
 *
 * @returns the row
 */
export function emptyRow(
  resolution: Resolution,
  start: number,
  kind: CallKind,
  model: string,
  namespace: string,
): HistoryRow {
  return {
    resolution,
    start,
    kind,
    model,
    namespace,
    calls: 0,
    tokens: 0,
    usd: 0,
    ms: 0,
    latency: LATENCY_BOUNDS_MS.map(() => 0),
  };
}

/** Adds a row's figures to another's: the page's own function, so both sum alike. */
export { addRow };

/**
 * The key of a row's bucket: resolution, start, kind, model and namespace.
 *
 * @param row the row
 * @returns the key
 */
export function rowKey(row: HistoryRow): string {
  return `${row.resolution}\t${row.start}\t${row.kind}\t${row.model}\t${row.namespace}`;
}

/**
 * Rows of the same bucket summed into one.
 *
 * @param rows rows, several of a bucket maybe
 * @returns one row per bucket, new objects
 */
export function sumRows(rows: readonly HistoryRow[]): HistoryRow[] {
  const sums = new Map<string, HistoryRow>();
  for (const row of rows) {
    const key = rowKey(row);
    const sum = sums.get(key);
    if (sum) addRow(sum, row);
    else {
      sums.set(key, { ...row, latency: [...row.latency] });
    }
  }
  return [...sums.values()];
}

/** The minute rows plus the same figures summed by hour. */
