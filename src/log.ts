/**
 * A levelled line logger. Lines go to the console (errors to stderr, the rest
 * to stdout) or to a given writer, and optionally to a file that rotates by
 * size. File writes never hold up the caller: lines wait in a bounded queue
 * that a background task writes in order; when the disk falls behind, lines
 * are dropped and the next line written says how many.
 *
 * Every line is passed through {@link redact} first, so API keys, auth tokens
 * and auth headers never reach a console, writer or file.
 *
 * @module
 */
import { isoTime } from "./clock.ts";
import type { LogFormat, LogLevel } from "./config.ts";

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

/** The log file cannot be opened; the message names the path and the fix. */
export class LogFileError extends Error {
  /** @param message one line naming the file, the reason and the fix */
  constructor(message: string) {
    super(message);
    this.name = "LogFileError";
  }
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
        formatLine(format, "error", `Log file: dropped ${dropped} lines: the disk fell behind`, {
          dropped,
        }),
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

/**
 * Hides secrets in `text`: each of `secrets` becomes `[redacted]`, and so do
 * Anthropic keys (`sk-ant-…[redacted]`), `Bearer` tokens and the values of
 * `x-api-key`, `x-cache-auth` and `authorization` headers.
 *
 * @param text a line, message or body excerpt
 * @param secrets exact values to hide; empty and `undefined` entries are skipped
 * @returns the text without them
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  const known = secrets.filter((s): s is string => s !== undefined && s !== "");
  // Most lines hold nothing to hide: one scan for a hint, and the regexes only then.
  if (!MAY_HOLD_SECRET.test(text) && !known.some((secret) => text.includes(secret))) return text;
  let out = text;
  for (const secret of known.sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(secret, "[redacted]");
    const escaped = JSON.stringify(secret).slice(1, -1); // as it appears inside a JSON line
    if (escaped !== secret) out = out.replaceAll(escaped, "[redacted]");
  }
  return out
    .replace(AUTH_HEADER, "$1$2$3[redacted]")
    .replace(BEARER, "$1[redacted]")
    .replace(ANTHROPIC_KEY, "sk-ant-…[redacted]");
}

/**
 * `x-api-key: v`, `"authorization":"Bearer v"`, `x-cache-auth=v`: name,
 * separator, scheme, then the value (not one already redacted).
 */
const AUTH_HEADER =
  /\b(x-api-key|x-cache-auth|(?:proxy-)?authorization)(\\?["']?\s*[:=]\s*\\?["']?\s*)((?:(?:bearer|basic)\s+)?)(?!(?:bearer|basic)\s)[^\s"'\\,;{}[\]]+/gi;
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const ANTHROPIC_KEY = /sk-ant-[A-Za-z0-9_-]{8,}/g;
/** Something each of the patterns above needs; JSON-escaped secrets still contain it. */
const MAY_HOLD_SECRET = /sk-ant-|bearer|x-api-key|x-cache-auth|authorization/i;

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
/** How long file lines wait to be written together. */
const DRAIN_DELAY_MS = 10;

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

interface FileSinkOptions {
  readonly maxBytes: number;
  readonly keep: number;
  readonly maxQueueBytes: number;
  /** The line that reports `dropped` lost lines. */
  readonly notice: (dropped: number) => string;
  /** Tells the operator that the file cannot be written. */
  readonly report: (message: string) => void;
}

const encoder = new TextEncoder();

/** Appends lines to a file from a bounded queue, rotating it by size. */
class FileSink {
  readonly #path: string;
  readonly #opts: FileSinkOptions;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #queue: string[] = [];
  #queued = 0;
  #dropped = 0;
  #draining: Promise<void> | undefined;
  #closed = false;
  #failing = false;

  constructor(path: string, opts: FileSinkOptions) {
    this.#path = path;
    this.#opts = opts;
    try {
      const dir = path.replace(/[\\/][^\\/]*$/, "");
      if (dir && dir !== path) Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.#file = Deno.openSync(path, { append: true, create: true, mode: 0o600 });
      this.#size = this.#file.statSync().size;
    } catch (e) {
      this.#file?.close();
      throw new LogFileError(
        `Cannot open the log file ${path} (${(e as Error).message}); ` +
          `set CACHE_LOG_FILE to a writable path, or to "none" to log to the console only`,
      );
    }
  }

  /** Queues a line, or counts it as dropped when the queue is full. */
  push(line: string): void {
    if (this.#closed) return;
    if (this.#queued >= this.#opts.maxQueueBytes) {
      this.#dropped++;
      return;
    }
    if (this.#dropped > 0) {
      this.#enqueue(this.#opts.notice(this.#dropped));
      this.#dropped = 0;
    }
    this.#enqueue(line);
    this.#draining ??= this.#drain();
  }

  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async close(): Promise<void> {
    if (this.#closed) return await this.flush();
    this.#closed = true;
    if (this.#dropped > 0) {
      this.#enqueue(this.#opts.notice(this.#dropped));
      this.#dropped = 0;
      this.#draining ??= this.#drain();
    }
    await this.flush();
    this.#closeFile();
  }

  #enqueue(line: string): void {
    this.#queue.push(`${line}\n`);
    this.#queued += line.length + 1; // characters: a close enough bound on bytes for a queue limit
  }

  async #drain(): Promise<void> {
    try {
      // Gather lines for a moment, so that under load one write carries many of them.
      await new Promise((resolve) => setTimeout(resolve, DRAIN_DELAY_MS));
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        this.#queued = 0;
        await this.#writeBatch(batch);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /** Writes a batch in one piece when the file has room for it, else line by line. */
  async #writeBatch(lines: string[]): Promise<void> {
    const joined = encoder.encode(lines.join(""));
    if (!this.#file || !this.#fits(joined.length)) {
      return await this.#writeLines(lines.map((line) => encoder.encode(line)));
    }
    try {
      await writeAll(this.#file, joined);
      this.#size += joined.length;
      this.#failing = false;
    } catch (e) {
      this.#failed(e, lines.length);
    }
  }

  /** Writes line by line, rotating before any line that would not fit. */
  async #writeLines(lines: Uint8Array[]): Promise<void> {
    let written = 0;
    try {
      let start = 0;
      while (start < lines.length) {
        if (!this.#file) await this.#reopen();
        let end = start;
        let bytes = 0;
        while (end < lines.length && (end === start || this.#fits(bytes + lines[end]!.length))) {
          bytes += lines[end++]!.length;
        }
        if (this.#size > 0 && !this.#fits(bytes)) await this.#rotate();
        await writeAll(this.#file!, concat(lines.slice(start, end), bytes));
        this.#size += bytes;
        written = end;
        start = end;
      }
      this.#failing = false;
    } catch (e) {
      this.#failed(e, lines.length - written);
    }
  }

  #failed(e: unknown, lost: number): void {
    this.#dropped += lost;
    if (!this.#failing) {
      this.#opts.report(
        `llm-cache-proxy: cannot write the log file ${this.#path} ` +
          `(${(e as Error).message}); dropping lines until it works again`,
      );
    }
    this.#failing = true;
    this.#closeFile();
  }

  #fits(bytes: number): boolean {
    return this.#size + bytes <= this.#opts.maxBytes;
  }

  #closeFile(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed by a failed write
    }
    this.#file = undefined;
  }

  async #rotate(): Promise<void> {
    this.#closeFile();
    const { keep } = this.#opts;
    if (keep <= 0) await ignoreMissing(Deno.remove(this.#path));
    for (let i = keep - 1; i >= 1; i--) {
      await ignoreMissing(Deno.rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`));
    }
    if (keep > 0) await ignoreMissing(Deno.rename(this.#path, `${this.#path}.1`));
    await this.#reopen();
  }

  async #reopen(): Promise<void> {
    this.#file = await Deno.open(this.#path, { append: true, create: true, mode: 0o600 });
    this.#size = (await this.#file.stat()).size;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await file.write(bytes.subarray(offset));
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function ignoreMissing(op: Promise<void>): Promise<void> {
  try {
    await op;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
