/**
 * Small statistics and formatting helpers for `scripts/bench.ts`.
 *
 * @module
 */

/**
 * The `p`-th percentile of `values` by nearest rank.
 *
 * @param values samples (not modified)
 * @param p percentile in [0, 100]
 * @returns the sample at that rank, NaN when there are none
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * Median and 90th/99th percentiles of `values`.
 *
 * @param values samples
 * @returns the three figures
 */
export function summarize(values: readonly number[]): { p50: number; p90: number; p99: number } {
  return { p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99) };
}

/**
 * Formats a number with a fixed count of decimals, or `n/a` when it is not finite.
 *
 * @param value the number
 * @param digits decimals
 * @returns the text
 */
export function fmt(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/**
 * Renders a markdown table.
 *
 * @param header column titles
 * @param rows cells, one array per row
 * @returns the table, one line per row
 */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * The pass/fail mark of a target.
 *
 * @param ok whether the target is met
 * @returns `PASS` or `FAIL`
 */
export function verdict(ok: boolean): string {
  return ok ? "PASS" : "FAIL";
}
