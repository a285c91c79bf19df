/**
 * Time as the proxy writes it.
 *
 * @module
 */

let lastMs = NaN;
let lastIso = "";

/**
 * `new Date(ms).toISOString()`, remembered for the last millisecond asked:
 * under load many calls end within one, and formatting costs more than the
 * rest of an event or a log line.
 *
 * @param ms milliseconds since the epoch @default Date.now()
 * @returns the ISO 8601 time
 */
export function isoTime(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
