/**
 * How `explore` shows cache entries, shared by its scripted output and its
 * full-screen browser: the table of entries, an entry's metadata and its body
 * as readable text. Pure functions of the entries and the clock; everything
 * taken from a stored answer is made safe to print first, so a cached body
 * cannot send escape sequences to the terminal.
 *
 * @module
 */
import type { WhyEntry, WhyReport } from "../cache/why.ts";
import type { EntrySummary } from "../store/store.ts";
import { formatBytes, formatCount, formatDuration, type Style } from "./term.ts";

/** Hex digits of a key shown in the table. */
export const SHORT_KEY = 12;

const HEADER = ["KEY", "AGE", "MODEL", "HITS", "SIZE", "SNIPPET"] as const;
const RIGHT_ALIGNED = new Set([1, 3, 4]);
const MODEL_WIDTH = 30;
const MIN_SNIPPET_WIDTH = 10;

/** A laid-out table: the header line and one line per entry, without colour. */
export interface Table {
  readonly header: string;
  readonly rows: readonly string[];
}

/**
 * Lays out entries as columns: short key, age, model, hits, size, snippet.
 *
 * @param entries the entries, in order
 * @param now the clock, for ages (ms since the epoch)
 * @param width cut every line to this many terminal cells; unlimited when undefined
 * @returns the header and the rows
 */
export function entryTable(
  entries: readonly EntrySummary[],
  now: number,
  width?: number,
): Table {
  const cells = entries.map((e) => rowCells(e, now));
  const widths = HEADER.slice(0, -1).map((title, i) =>
    Math.min(
      i === 2 ? MODEL_WIDTH : Infinity,
      Math.max(title.length, ...cells.map((row) => cellWidth(row[i]!))),
    )
  );
  const lineOf = (row: readonly string[]) => {
    const fixed = widths.map((w, i) => pad(fit(row[i]!, w), w, RIGHT_ALIGNED.has(i)));
    const used = widths.reduce((sum, w) => sum + w + 2, 0);
    const rest = width === undefined ? Infinity : Math.max(MIN_SNIPPET_WIDTH, width - used);
    const line = [...fixed, fit(row[widths.length]!, rest)].join("  ").trimEnd();
    return width === undefined ? line : fit(line, width);
  };
  return { header: lineOf(HEADER), rows: cells.map(lineOf) };
}

function rowCells(entry: EntrySummary, now: number): string[] {
  return [
    entry.key.slice(0, SHORT_KEY),
    shortAge(now - entry.createdAt),
    oneLine(entry.model ?? "-"),
    formatCount(entry.hitCount),
    formatBytes(entry.size),
    oneLine(entry.snippet),
  ];
}

/**
 * An entry's metadata as aligned `label  value` lines.
 *
 * @param entry the entry (without its body)
 * @param now the clock (ms since the epoch)
 * @returns one line per field
 */
export function metaLines(entry: EntrySummary, now: number): string[] {
  const u = entry.usage;
  const expires = entry.expiresAt > now
    ? `in ${formatDuration(entry.expiresAt - now)}`
    : `expired ${formatDuration(now - entry.expiresAt)} ago`;
  const hits = entry.hitCount === 0
    ? "0"
    : `${formatCount(entry.hitCount)}, last ${formatDuration(now - entry.lastHitAt)} ago`;
  const fields: [string, string][] = [
    ["key", entry.key],
    ["path", oneLine(entry.path)],
    ["model", oneLine(entry.model ?? "-")],
    ["status", String(entry.status)],
    ["type", oneLine(entry.contentType)],
    ["created", `${localTime(entry.createdAt)} (${formatDuration(now - entry.createdAt)} ago)`],
    ["expires", `${localTime(entry.expiresAt)} (${expires})`],
    ["hits", hits],
    ["size", `${formatBytes(entry.size)} (${formatCount(entry.size)} bytes)`],
    [
      "usage",
      `${formatCount(u.input_tokens)} in, ${formatCount(u.output_tokens)} out, ` +
      `${formatCount(u.cache_creation_input_tokens)} cache write, ` +
      `${formatCount(u.cache_read_input_tokens)} cache read`,
    ],
    ["snippet", oneLine(entry.snippet) || "-"],
  ];
  return fields.map(([label, value]) => `${label.padEnd(8)} ${value}`);
}

const WHY_SNIPPET_WIDTH = 60;
const DIFF_MARK = { added: "+", removed: "-", changed: "~" } as const;

/**
 * `explore --why` as lines: both entries, the reason, a legend, then each
 * difference with its values (`-` before in red, `+` after in green).
 *
 * @param report what was found
 * @param now the clock, for ages (ms since the epoch)
 * @param options `style` for colour; `maxDiff`: differences shown before a "more" line
 * @returns the lines, without trailing newlines
 */
export function whyLines(
  report: WhyReport,
  now: number,
  options: { style: Style; maxDiff: number },
): string[] {
  const { style } = options;
  const name = (e: WhyEntry) =>
    `${e.key.slice(0, SHORT_KEY)}  ${formatDuration(now - e.createdAt)} ago  ` +
    `"${fit(oneLine(e.snippet), WHY_SNIPPET_WIDTH)}"`;
  const lines = [
    `${style.bold("entry   ")} ${name(report.entry)}`,
    `${style.bold("nearest ")} ${name(report.nearest)}`,
    `${style.bold("why     ")} ${report.reason}`,
    "",
  ];
  if (report.diff.length === 0) return [...lines, "The request bodies are the same."];
  lines.push(
    style.dim(`${style.red("-")} the nearest entry's request   ${style.green("+")} this entry's`),
  );
  for (const diff of report.diff.slice(0, options.maxDiff)) {
    lines.push(`${DIFF_MARK[diff.kind]} ${style.bold(oneLine(diff.path))}`);
    if (diff.before !== undefined) lines.push(style.red(`    - ${printable(diff.before)}`));
    if (diff.after !== undefined) lines.push(style.green(`    + ${printable(diff.after)}`));
  }
  const more = report.diff.length - options.maxDiff;
  if (more > 0) lines.push(style.dim(`… ${formatCount(more)} more differences; --json lists all`));
  return lines;
}

/**
 * A stored body as readable text: JSON pretty-printed, anything else (an SSE
 * stream) decoded as it is, with control characters made visible.
 *
 * @param contentType the stored `content-type`
 * @param body the stored bytes
 * @returns the text, lines separated by `\n`
 */
export function bodyText(contentType: string, body: Uint8Array): string {
  const text = new TextDecoder().decode(body);
  if (contentType.includes("json")) {
    try {
      return printable(JSON.stringify(JSON.parse(text), null, 2));
    } catch {
      // Not JSON after all: show it as it is.
    }
  }
  return printable(text.replace(/\r\n?/g, "\n"));
}

/**
 * Text safe for a terminal: tabs become two spaces and other control
 * characters (ESC among them) a visible `�`; newlines are kept.
 *
 * @param text untrusted text
 * @returns the text with nothing the terminal would interpret
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\t/g, "  ").replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/g, "\ufffd");
}

/**
 * Text on one line: {@link printable}, with runs of white space as one space.
 *
 * @param text untrusted text
 * @returns one line
 */
export function oneLine(text: string): string {
  return printable(text.replace(/\s+/g, " ")).trim();
}

/**
 * Cuts text to `width` terminal cells, ending in `…` when cut.
 *
 * @param text plain text without colour codes
 * @param width terminal cells available
 * @returns text that fits
 */
export function fit(text: string, width: number): string {
  if (cellWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const char of text) {
    const w = charWidth(char.codePointAt(0)!);
    if (used + w > width - 1) break;
    out += char;
    used += w;
  }
  return width >= 1 ? `${out}…` : "";
}

/**
 * Splits a line into pieces of at most `width` terminal cells.
 *
 * @param line plain text without newlines
 * @param width terminal cells per piece, at least 1
 * @returns the pieces; one empty piece for an empty line
 */
export function wrap(line: string, width: number): string[] {
  const pieces: string[] = [];
  let piece = "";
  let used = 0;
  for (const char of line) {
    const w = charWidth(char.codePointAt(0)!);
    if (used + w > width && piece !== "") pieces.push(piece), piece = "", used = 0;
    piece += char;
    used += w;
  }
  pieces.push(piece);
  return pieces;
}

/**
 * The number of terminal cells text takes: wide (CJK, emoji) characters count
 * two, combining marks none.
 *
 * @param text plain text without colour codes
 * @returns the width in cells
 */
export function cellWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char.codePointAt(0)!);
  return width;
}

function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp === 0xfe0f) return 0;
  const wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}

function pad(text: string, width: number, right: boolean): string {
  const space = " ".repeat(Math.max(0, width - cellWidth(text)));
  return right ? space + text : text + space;
}

/** `42s`, `5m`, `3h`, `12d`: the largest unit of the age. */
function shortAge(ms: number): string {
  return formatDuration(ms).split(" ")[0]!;
}

function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
