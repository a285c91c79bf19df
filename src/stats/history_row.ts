/**
 * One row of the dashboard's history: calls, tokens, dollars and a latency
 * histogram of one kind, model and namespace over one minute or hour, and
 * how rows add up. What the history, the stores and the page share.
 *
 * @module
 */
import { type HistoryRow, LATENCY_BOUNDS_MS, rowKey } from "../values/history_row.ts";
import { addRow, latencyBucket as bucketOf } from "./dashboard/series.js";

/**
 * The bucket of {@link LATENCY_BOUNDS_MS} a duration falls in.
 *
 * @param ms a duration
 * @returns the bucket's index
 */
export function latencyBucket(ms: number): number {
  return bucketOf(ms, LATENCY_BOUNDS_MS);
}

/** Adds a row's figures to another's: the page's own function, so both sum alike. */
export { addRow };

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
