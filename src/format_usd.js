// @ts-check
/**
 * Dollars, the one format for money everywhere: the log, the monitor, the
 * command line (through `src/format.ts`) and the dashboard, which loads this
 * very file. Plain JavaScript so that the browser can run it as it is.
 *
 * @module
 */

/**
 * Dollars: `$0`, `$0.00042`, `$0.016`, `$0.12`, `$1.23`, `$1,234.50`. Below
 * ten cents two significant digits, so a small amount is never rounded to a cent.
 *
 * @param {number} dollars an amount
 * @returns {string} the formatted amount
 */
export function formatUsd(dollars) {
  if (!(dollars > 0)) return "$0";
  if (dollars < 0.000001) return "<$0.000001";
  if (dollars < 0.1) {
    const small = dollars.toPrecision(2);
    if (Number(small) < 0.1) return `$${small.replace(/0+$/, "")}`; // else it rounds to $0.10
  }
  const fixed = dollars.toFixed(2);
  return `$${thousands(fixed.slice(0, -3))}${fixed.slice(-3)}`;
}

/**
 * Digits grouped by three: `1234567` → `1,234,567`. A loop, not a regular
 * expression: the log line formats the running total on every call.
 *
 * @param {string} digits a whole number's digits
 * @returns {string} the digits with commas
 */
function thousands(digits) {
  let grouped = digits.slice(0, digits.length % 3 || 3);
  for (let i = grouped.length; i < digits.length; i += 3) grouped += `,${digits.slice(i, i + 3)}`;
  return grouped;
}
