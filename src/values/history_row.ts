/**
 * One row of the dashboard's history: calls, tokens, dollars and a latency
 * histogram of one kind, model and namespace over one minute or hour. The
 * history sums them, the stores keep them, the page draws them.
 *
 * @module
 */
import type { CallKind } from "./call_kind.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

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

/**
 * The key of a row's bucket: resolution, start, kind, model and namespace.
 *
 * @param row the row
 * @returns the key
 */
export function rowKey(row: HistoryRow): string {
  return `${row.resolution}\t${row.start}\t${row.kind}\t${row.model}\t${row.namespace}`;
}

/** How long rows are kept: a day of minutes and 30 days of hours, plus the one in progress. */
export const HISTORY_KEPT_MS: Readonly<Record<Resolution, number>> = {
  minute: DAY + HOUR,
  hour: 30 * DAY + DAY,
};
