/**
 * Number formats shared by the log, the monitor and the command line, so a
 * dollar amount reads the same everywhere.
 *
 * @module
 */

/**
 * Dollars, the one format for money everywhere: `$0`, `$0.00042`, `$0.016`,
 * `$1,234.50`. It lives in the dashboard's folder as plain JavaScript, so the
 * page runs the very same function.
 */
export { formatUsd } from "./format_usd.js";

/**
 * A list price, exact to a millionth of a dollar and with at least two
 * decimals: `$0.30`, `$0.025`, `$0.3125`, `$15.00`.
 *
 * @param dollars a price
 * @returns the formatted price
 */
export function formatPrice(dollars: number): string {
  const [whole, fraction = ""] = String(Math.round(dollars * 1e6) / 1e6).split(".");
  return `$${whole}.${fraction.padEnd(2, "0")}`;
}

/**
 * A short duration: `0.4ms`, `950.0ms`, `1.25s`.
 *
 * @param ms milliseconds
 * @returns the formatted duration
 */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.max(0, ms).toFixed(1)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

/**
 * A whole percent; `<1%` and `>99%` rather than a rounded 0 or 100.
 *
 * @param pct a percentage, 0 to 100
 * @returns the formatted percentage
 */
export function formatPct(pct: number): string {
  if (pct > 0 && pct < 1) return "<1%";
  if (pct > 99 && pct < 100) return ">99%";
  return `${Math.round(pct)}%`;
}

const UNITS: readonly [number, string][] = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];

/**
 * A count in at most four characters or so: `950`, `12.3k`, `4.5M`, `1.2B`.
 *
 * @param n a count
 * @returns the formatted count
 */
export function formatCompact(n: number): string {
  for (const [size, unit] of UNITS) {
    if (n >= size) return `${trimZeros((n / size).toFixed(1))}${unit}`;
  }
  return `${Math.round(n)}`;
}

function trimZeros(digits: string): string {
  return digits.includes(".") ? digits.replace(/0+$/, "").replace(/\.$/, "") : digits;
}

/**
 * A count with thousands separators: `12,345`.
 *
 * @param n a whole number
 * @returns the formatted count
 */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A count and its noun: `1 entry`, `3 entries`, `1,200 calls`.
 *
 * @param n the count
 * @param one the noun for one
 * @param many the noun for any other count @default one + "s"
 * @returns the formatted count and noun
 */
export function formatPlural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}
