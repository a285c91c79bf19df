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
  const small = dollars.toPrecision(2);
  if (Number(small) < 0.1) return `$${small.replace(/0+$/, "")}`;
  const [whole, cents] = dollars.toFixed(2).split(".");
  return `$${String(whole).replace(/\B(?=(\d{3})+$)/g, ",")}.${cents}`;
}
