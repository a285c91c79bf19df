/**
 * Terminal output for the commands: colour and marks on a terminal, plain
 * text in a pipe or with `NO_COLOR` set, and the number formats every
 * command shares.
 *
 * @module
 */
import { formatCount, formatPlural, formatUsd } from "../format.ts";

/** The number formats every command shares with the log and the monitor. */
export { formatCount, formatPlural, formatUsd };

/** Wraps text in colour, or returns it unchanged when colour is off. */
export type Paint = (text: string) => string;

/** The colours a command may use; all identity functions when colour is off. */
export interface Style {
  readonly color: boolean;
  /** Whether the ✓/✗/! marks are used (on a terminal). */
  readonly marks: boolean;
  readonly bold: Paint;
  readonly dim: Paint;
  readonly green: Paint;
  readonly red: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
  /** On a terminal `✓ text` in green; in a pipe the text alone. */
  readonly ok: Paint;
  /** On a terminal `✗ text` in red; in a pipe `error: text`. */
  readonly fail: Paint;
  /** On a terminal `! text` in yellow; in a pipe `warning: text`. */
  readonly warn: Paint;
}

/**
 * The style for a stream: colour only on a terminal, and never with `NO_COLOR`
 * set or `TERM=dumb`; the ✓/✗/! marks only on a terminal, words a script can
 * match in a pipe.
 *
 * @param stream where the text goes, e.g. `Deno.stdout`
 * @returns the style
 */
export function styleFor(stream: { isTerminal(): boolean } = Deno.stdout): Style {
  const terminal = stream.isTerminal();
  const color = terminal && !Deno.env.get("NO_COLOR") && Deno.env.get("TERM") !== "dumb";
  const sgr = (open: number, close: number): Paint =>
    color ? (text) => `\x1b[${open}m${text}\x1b[${close}m` : (text) => text;
  const green = sgr(32, 39);
  const red = sgr(31, 39);
  const yellow = sgr(33, 39);
  return {
    color,
    marks: terminal,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    green,
    red,
    yellow,
    cyan: sgr(36, 39),
    ok: terminal ? (text) => `${green("✓")} ${text}` : (text) => text,
    fail: terminal ? (text) => `${red("✗")} ${text}` : (text) => `error: ${text}`,
    warn: terminal ? (text) => `${yellow("!")} ${text}` : (text) => `warning: ${text}`,
  };
}

/**
 * A size in binary units: `512 B`, `1.5 KiB`, `20.0 MiB`.
 *
 * @param bytes a size in bytes
 * @returns the formatted size
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) value /= 1024, unit++;
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A ratio as a percentage with one decimal: `0.905` → `90.5%`.
 *
 * @param ratio 0 to 1
 * @returns the formatted percentage
 */
export function formatPercent(ratio: number): string {
  return `${(100 * ratio).toFixed(1)}%`;
}

/**
 * A duration in words: `42s`, `5m 3s`, `2h 10m`, `3d 4h`.
 *
 * @param ms a duration in milliseconds
 * @returns the formatted duration
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * Lays out rows as columns separated by two spaces; numbers (cells that start
 * with a digit, `$` or `-`) are right-aligned. Width is measured without
 * colour codes.
 *
 * @param rows the cells, first row usually a header
 * @returns one string per row
 */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell)));
  }
  return rows.map((row) =>
    row.map((cell, i) => {
      const pad = " ".repeat(widths[i]! - visibleLength(cell));
      if (i === row.length - 1 && !isNumeric(cell)) return cell;
      return isNumeric(cell) ? pad + cell : cell + pad;
    }).join("  ").trimEnd()
  );
}

/**
 * The length of `text` as a terminal shows it: without SGR colour codes.
 *
 * @param text possibly coloured text
 * @returns the number of code points that print
 */
export function visibleLength(text: string): number {
  // deno-lint-ignore no-control-regex
  return [...text.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

function isNumeric(cell: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^[<>$-]*\d[\d,.]*\s?(%|[kMGB]|[KMGT]iB)?$/.test(cell.replace(/\x1b\[[0-9;]*m/g, ""));
}
