/**
 * A levelled line logger. Lines go to the console (errors to stderr, the rest
 * to stdout) or to a given writer, and optionally to a file that rotates by
 * size. File writes never hold up the caller: lines wait in a bounded queue
 * that a background task writes in order; when the disk falls behind, lines
 * are dropped and the next line written says how many.
 *
 * Every line is passed through `redact` (src/redact.ts) first, so API keys,
 * auth tokens and auth headers never reach a console, writer or file. The file
 * side lives in src/log_file.ts.
 *
 * @module
 */
import { isoTime } from "./clock.ts";
import { formatPlural } from "./format.ts";
import type { LogFormat, LogLevel } from "./config_vars.ts";
import { FileSink } from "./log_file.ts";
import { redact } from "./redact.ts";

/** Structured extras of a line; written by the JSON format only. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A level a line can be written at. */
export type LineLevel = Exclude<LogLevel, "silent">;

/** Writes log lines at or above the configured level. */
export interface Logger {
  /** The least severe level written. */
  readonly level: LogLevel;
  /** How lines are written. */
  readonly format: LogFormat;
  /** Something failed; the proxy carries on. */
  error(message: string, fields?: LogFields): void;
  /** What the proxy is doing (one line per call, start-up). */
  info(message: string, fields?: LogFields): void;
  /** Details for debugging. */
  debug(message: string, fields?: LogFields): void;
  /** Tells whether lines at `level` are written (to skip building them). */
  enabled(level: LineLevel): boolean;
  /** Resolves once every line logged so far is in the file. */
  flush(): Promise<void>;
  /** Flushes and closes the file; later lines reach the console only. Idempotent. */
  close(): Promise<void>;
}

/** Where and how a logger writes. */
export interface LoggerOptions {
  /** Also append lines to this file (created with mode 0600); `undefined` for none. */
  readonly file?: string | undefined;
  /** @default "text" */
  readonly format?: LogFormat | undefined;
  /** Size at which the file is rotated. @default 10485760 (10 MiB) */
  readonly maxBytes?: number | undefined;
  /** Rotated files kept: `file.1` (newest) … `file.N`. @default 3 */
  readonly keep?: number | undefined;
  /** Write lines to the console (or to `write`). @default true */
  readonly console?: boolean | undefined;
  /** Where console lines go instead of stdout and stderr (no colour). */
  readonly write?: ((line: string) => void) | undefined;
  /** Colour the level word on the console. @default when the stream is a terminal and NO_COLOR is unset */
  readonly color?: boolean | undefined;
  /** Values replaced by `[redacted]` in every line; `undefined` entries are skipped. */
  readonly secrets?: readonly (string | undefined)[] | undefined;
  /** Bytes of lines waiting for the disk before new lines are dropped. @default 1048576 (1 MiB) */
  readonly maxQueueBytes?: number | undefined;
}

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, info: 2, debug: 3 };
const LABEL: Record<LineLevel, string> = { error: "ERROR", info: "INFO", debug: "DEBUG" };
const COLOR: Record<LineLevel, string> = { error: "\x1b[31m", info: "\x1b[32m", debug: "\x1b[2m" };
const RESET = "\x1b[0m";
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_KEEP = 3;
const DEFAULT_QUEUE_BYTES = 1024 * 1024;

/**
 * Makes a logger for `level`.
 *
 * @param level the least severe level written
 * @param options where and how lines go; a function is shorthand for `{ write }`
 * @returns the logger
 * @throws {LogFileError} when `options.file` cannot be opened
 * @example
 * ```ts
 * const log = createLogger("info", { file: "/tmp/proxy.log", format: "json", secrets: [key] });
 * log.info("listening", { port: 4000 });
 * await log.close();
 * ```
 */
export function createLogger(
  level: LogLevel,
  options: LoggerOptions | ((line: string) => void) = {},
): Logger {
  const opts: LoggerOptions = typeof options === "function" ? { write: options } : options;
  const format = opts.format ?? "text";
  const secrets = (opts.secrets ?? []).filter((s): s is string => s !== undefined && s !== "");
  const toConsole = consoleSink(opts);
  const file = opts.file !== undefined && level !== "silent"
    ? new FileSink(opts.file, {
      maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES,
      keep: opts.keep ?? DEFAULT_KEEP,
      maxQueueBytes: opts.maxQueueBytes ?? DEFAULT_QUEUE_BYTES,
      notice: (dropped) =>
        formatLine(
          format,
          "error",
          `Log file: dropped ${formatPlural(dropped, "line")}: the disk fell behind`,
          { dropped },
        ),
      report: (message) => console.error(redact(message, secrets)),
    })
    : undefined;
  const enabled = (at: LineLevel) => RANK[level] >= RANK[at];
  const at = (lineLevel: LineLevel) => (message: string, fields?: LogFields) => {
    if (!enabled(lineLevel)) return;
    const line = redact(formatLine(format, lineLevel, message, fields), secrets);
    toConsole?.write(line, lineLevel);
    file?.push(line);
  };
  return {
    level,
    format,
    error: at("error"),
    info: at("info"),
    debug: at("debug"),
    enabled,
    flush: () => (toConsole?.flush(), file?.flush() ?? Promise.resolve()),
    close: () => (toConsole?.flush(), file?.close() ?? Promise.resolve()),
  };
}

function formatLine(
  format: LogFormat,
  level: LineLevel,
  message: string,
  fields: LogFields | undefined,
): string {
  const time = isoTime();
  if (format === "text") return `${time} ${LABEL[level]} ${message}`;
  const record: Record<string, unknown> = { time, level, msg: message };
  for (const [name, value] of Object.entries(fields ?? {})) {
    if (!(name in record)) record[name] = value;
  }
  try {
    return JSON.stringify(record, jsonValue);
  } catch (e) {
    return JSON.stringify({ time, level, msg: message, fieldsError: String(e) });
  }
}

function jsonValue(_name: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

interface ConsoleSink {
  write(line: string, level: LineLevel): void;
  /** Writes what is batched. */
  flush(): void;
}

/** How long stdout lines wait to be written together: one write per batch, not per call. */
const STDOUT_BATCH_MS = 10;
const encoder = new TextEncoder();

function consoleSink(opts: LoggerOptions): ConsoleSink | undefined {
  if (opts.console === false) return undefined;
  const write = opts.write;
  if (write) return { write: (line) => write(line), flush: () => {} };
  const colorOut = opts.color ?? (!Deno.noColor && Deno.stdout.isTerminal());
  const colorErr = opts.color ?? (!Deno.noColor && Deno.stderr.isTerminal());
  const text = opts.format !== "json";
  const paint = (line: string, level: LineLevel) => {
    const label = LABEL[level];
    const start = line.indexOf(` ${label} `) + 1; // after the ISO time
    return `${line.slice(0, start)}${COLOR[level]}${label}${RESET}${
      line.slice(start + label.length)
    }`;
  };
  // A synchronous console.log per call cost over half the hit throughput under
  // load; lines written at info are batched and written together instead.
  let batch: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;
    const bytes = encoder.encode(`${batch.join("\n")}\n`);
    batch = [];
    for (let offset = 0; offset < bytes.byteLength;) {
      offset += Deno.stdout.writeSync(bytes.subarray(offset));
    }
  };
  return {
    write(line, level) {
      if (level === "error") {
        flush(); // keep stdout and stderr in the order the lines were logged
        console.error(text && colorErr ? paint(line, level) : line);
        return;
      }
      batch.push(text && colorOut ? paint(line, level) : line);
      timer ??= setTimeout(flush, STDOUT_BATCH_MS);
    },
    flush,
  };
}
