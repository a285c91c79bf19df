// @ts-check
/**
 * How the page writes numbers, times and names: counts, bytes, durations,
 * dates relative to now, token usage, short model names. Money goes through
 * the one shared {@link formatUsd}.
 *
 * @module
 */
import { formatUsd } from "../../format_usd.js";

const intFmt = new Intl.NumberFormat();
/** @param {unknown} n */
export const fmtInt = (n) => intFmt.format(Math.round(Number(n) || 0));
/** @param {unknown} x */
export function fmtCompact(x) {
  const n = Number(x) || 0, a = Math.abs(n);
  if (a < 1e4) return fmtInt(n);
  if (a < 1e6) return (n / 1e3).toFixed(a < 1e5 ? 1 : 0) + "k";
  if (a < 1e9) return (n / 1e6).toFixed(a < 1e7 ? 2 : 1) + "M";
  return (n / 1e9).toFixed(2) + "B";
}
/** @param {unknown} x */
export const fmtUsd = (x) => formatUsd(Number(x) || 0);
/** @param {unknown} x */
export function fmtBytes(x) {
  let b = Number(x) || 0;
  if (b < 1024) return b + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do {
    b /= 1024;
    i++;
  } while (b >= 1024 && i < units.length - 1);
  return (b < 10 ? b.toFixed(1) : Math.round(b)) + " " + units[i];
}
/** @param {number} s */
export function fmtDuration(s) {
  const sec = Math.max(0, Math.floor(s || 0));
  const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600);
  const m = Math.floor(sec % 3600 / 60), r = sec % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${pad2(m)}m`;
  if (m) return `${m}m ${pad2(r)}s`;
  return `${r}s`;
}
/** @param {number} ms */
export function fmtMs(ms) {
  if (ms < 10) return (Math.round(ms * 10) / 10).toFixed(1);
  if (ms < 10000) return fmtInt(ms);
  return (ms / 1000).toFixed(1) + " s";
}
/** An axis value in ms: `0.1 ms`, `10 ms`, `1 s`. @param {number} ms */
export const fmtLatency = (ms) =>
  ms >= 1000 ? `${+(ms / 1000).toPrecision(3)} s` : `${+ms.toPrecision(3)} ms`;
/** @param {number} t */
export function fmtRel(t) {
  if (!t) return "–";
  const d = (t - Date.now()) / 1000, a = Math.abs(d);
  if (a < 5) return "just now";
  const v = a < 60
    ? Math.round(a) + " s"
    : a < 3600
    ? Math.round(a / 60) + " min"
    : a < 172800
    ? Math.round(a / 3600) + " h"
    : Math.round(a / 86400) + " d";
  return d < 0 ? v + " ago" : "in " + v;
}
/** @param {number} n @param {string} one @param {string} many */
export const plural = (n, one, many) => fmtInt(n) + " " + (n === 1 ? one : many);
/** @param {number} n */
export const pad2 = (n) => String(n).padStart(2, "0");
/** @param {Date} d */
export const clock = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
/** @param {Date} d */
export const hhmm = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
/** @param {number} x a fraction */
export const pct = (x) =>
  (x * 100 >= 99.95 || x === 0 ? (x * 100).toFixed(0) : (x * 100).toFixed(1)) + "%";
/** @param {number} t */
export function fmtDate(t) {
  if (!t) return "–";
  const d = new Date(t);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${clock(d)} (${
    fmtRel(t)
  })`;
}
/** @param {Record<string, number> | undefined} u */
export function usageTotals(u = {}) {
  const input = (u.input_tokens || 0) + (u.cache_creation_input_tokens || 0) +
    (u.cache_read_input_tokens || 0);
  return { input, output: u.output_tokens || 0 };
}
/** @param {Record<string, number> | undefined} u */
export function usageTitle(u = {}) {
  return `input ${fmtInt(u.input_tokens)} · cache write ${
    fmtInt(u.cache_creation_input_tokens)
  } · ` +
    `cache read ${fmtInt(u.cache_read_input_tokens)} · output ${fmtInt(u.output_tokens)}`;
}

/** "claude-sonnet-4-5-20250929" → "sonnet-4-5"; the full name goes in a title. @param {string} m */
export const shortModel = (m) => String(m).replace(/^claude-/, "").replace(/-\d{8}$/, "");
