/**
 * The dashboard's history in Redis: one hash per hour of minute rows
 * (`h:minute:<hour start>`) and one per day of hour rows (`h:hour:<day
 * start>`), each field the JSON of `[start, kind, model, namespace, figure]`
 * (models and namespaces come from clients and may hold any character),
 * added to with HINCRBYFLOAT, so every instance of a fleet adds to the same
 * rows. A hash expires by Redis TTL once all its rows are past their keeping
 * time. Private to `src/store/`; {@link RedisStore} sends what this builds.
 *
 * @module
 */
import type { CallKind } from "../values/call_kind.ts";
import { HISTORY_KEPT_MS } from "../values/history_row.ts";
import { emptyRow, type HistoryRow, type Resolution, rowKey } from "../values/history_row.ts";

const HOUR = 3_600_000;
/** How much time one hash holds, by the resolution of its rows. */
const GROUP_MS: Readonly<Record<Resolution, number>> = { minute: HOUR, hour: 24 * HOUR };
const FIGURES = ["calls", "tokens", "usd", "ms"] as const;

/** The key, after the prefix, of the hash that holds a row starting at `start`. */
function groupKey(resolution: Resolution, start: number): string {
  return `h:${resolution}:${Math.floor(start / GROUP_MS[resolution]) * GROUP_MS[resolution]}`;
}

/**
 * The `addHistory` script's arguments after the prefix: for every non-zero
 * figure, the hash key, when it expires, the field and the amount.
 *
 * @param rows the rows to add
 * @param dropBefore rows starting before this, by resolution, may go
 * @param now the store's clock
 * @returns the flat argument list
 */
export function historyArgs(
  rows: readonly HistoryRow[],
  dropBefore: Readonly<Record<Resolution, number>>,
  now: number,
): string[] {
  const args: string[] = [];
  for (const row of rows) {
    const key = groupKey(row.resolution, row.start);
    const groupEnd = Number(key.slice(key.lastIndexOf(":") + 1)) + GROUP_MS[row.resolution];
    const expireAt = String(groupEnd + (now - dropBefore[row.resolution]));
    const dims = [row.start, row.kind, row.model, row.namespace];
    const add = (figure: string, value: number) => {
      if (value !== 0) args.push(key, expireAt, JSON.stringify([...dims, figure]), String(value));
    };
    for (const figure of FIGURES) add(figure, row[figure]);
    row.latency.forEach((n, i) => add(`l${i}`, n));
  }
  return args;
}

/**
 * The hash keys, after the prefix, that may hold rows of `resolution` from
 * `since` to `now`: no further back than any row is kept.
 *
 * @returns the keys, oldest first
 */
export function historyKeys(resolution: Resolution, since: number, now: number): string[] {
  const keys: string[] = [];
  const step = GROUP_MS[resolution];
  const first = Math.max(since, now - HISTORY_KEPT_MS[resolution] - step);
  for (let t = Math.floor(first / step) * step; t <= now; t += step) {
    keys.push(groupKey(resolution, t));
  }
  return keys;
}

/**
 * Rows from HGETALL replies of hashes from {@link historyKeys}.
 *
 * @param resolution the rows' resolution
 * @param since rows starting earlier are left out
 * @param replies each hash as a flat field, value list
 * @returns the rows
 */
export function historyRows(
  resolution: Resolution,
  since: number,
  replies: readonly (readonly string[])[],
): HistoryRow[] {
  const rows = new Map<string, HistoryRow>();
  for (const reply of replies) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const [start, kind, model, namespace, figure] = JSON.parse(reply[i]!) as [
        number,
        CallKind,
        string,
        string,
        string,
      ];
      if (start < since) continue;
      const fresh = emptyRow(resolution, start, kind, model, namespace);
      const key = rowKey(fresh);
      let row = rows.get(key);
      if (!row) rows.set(key, row = fresh);
      const value = Number(reply[i + 1]);
      if (figure.startsWith("l")) row.latency[Number(figure.slice(1))] = value;
      else row[figure as typeof FIGURES[number]] = value;
    }
  }
  return [...rows.values()];
}
