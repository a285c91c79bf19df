/**
 * A levelled line logger. The level comes from `Config.logLevel`; errors go
 * to stderr and everything else to stdout, unless a writer is given.
 *
 * @module
 */
import type { LogLevel } from "./config.ts";

/** Writes log lines at or above the configured level. */
export interface Logger {
  /** Something failed; the proxy carries on. */
  error(message: string): void;
  /** What the proxy is doing (one line per call, start-up). */
  info(message: string): void;
  /** Details for debugging. */
  debug(message: string): void;
}

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, info: 2, debug: 3 };

/**
 * Makes a logger for `level`.
 *
 * @param level the least severe level written
 * @param write where a finished line goes @default stderr for errors, stdout otherwise
 * @returns the logger
 */
export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const at = (min: LogLevel, label: string) => (message: string) => {
    if (RANK[level] < RANK[min]) return;
    const line = `${new Date().toISOString()} ${label} ${message}`;
    if (write) write(line);
    else if (min === "error") console.error(line);
    else console.log(line);
  };
  return { error: at("error", "ERROR"), info: at("info", "INFO"), debug: at("debug", "DEBUG") };
}
