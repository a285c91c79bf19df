/**
 * The log's line per call, as llm-cache-proxy v2 wrote it:
 *
 * ```text
 * HIT claude-sonnet-4-5 200 40tok $0.00042 1.2ms | saved $1.23 (73% of spend) · 12.3k tok
 * ```
 *
 * kind, model (and the path when it is not `/v1/messages`), status, tokens of
 * the call, its dollars (saved on a hit, spent otherwise), its duration, then
 * what the cache has saved so far. The JSON format gets {@link callFields}.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { CallEvent, EventBus } from "./events.ts";
import type { Summary } from "./ledger.ts";

const MESSAGES_PATH = "/v1/messages";

/**
 * Formats one call for the text log.
 *
 * @param event the call
 * @param totals running totals, this call included
 * @returns the line, without time or level
 */
export function callLine(event: CallEvent, totals: Summary): string {
  const where = event.path === MESSAGES_PATH
    ? event.model ?? "-"
    : `${event.model ?? "-"} ${event.path}`;
  return `${event.kind} ${where} ${event.status} ${callTokens(event)}tok ` +
    `${usd(event.dollars)} ${duration(event.durationMs)} | saved ${usd(totals.usdSaved)} ` +
    `(${percent(totals.savingsPct)} of spend) · ${compact(totals.tokensSaved)} tok`;
}

/**
 * The fields of one call for the JSON log: the event (its `time` is the
 * line's own), its total tokens, and the running totals.
 *
 * @param event the call
 * @param totals running totals, this call included
 * @returns fields for `Logger.info`
 */
export function callFields(event: CallEvent, totals: Summary): Record<string, unknown> {
  const { time: _time, ...rest } = event;
  return {
    ...rest,
    tokens: callTokens(event),
    totals: {
      calls: totals.calls,
      hits: totals.hits,
      misses: totals.misses,
      errors: totals.errors,
      bypassed: totals.bypassed,
      hitRate: totals.hitRate,
      tokensSaved: totals.tokensSaved,
      tokensSpent: totals.tokensSpent,
      usdSaved: totals.usdSaved,
      usdSpent: totals.usdSpent,
      savingsPct: totals.savingsPct,
    },
  };
}

/**
 * Writes a line at info for every call on `bus`. Subscribe it after the
 * ledger, so that `totals` includes the call being logged.
 *
 * @param bus the call events
 * @param log where lines go; fields are built only for the JSON format
 * @param totals the running totals to show (e.g. `() => ledger.session()`)
 * @returns a function that unsubscribes
 */
export function logCalls(bus: EventBus, log: Logger, totals: () => Summary): () => void {
  return bus.subscribe((event) => {
    if (!log.enabled("info")) return;
    const now = totals();
    log.info(callLine(event, now), log.format === "json" ? callFields(event, now) : undefined);
  });
}

/** Input, output, cache-read and cache-write tokens of a call. */
function callTokens(event: CallEvent): number {
  const u = event.usage;
  return u.input_tokens + u.output_tokens + u.cache_read_input_tokens +
    u.cache_creation_input_tokens;
}

/** `$0`, `$0.00042`, `$0.12`, `$1.23`, `$1234.50`. */
function usd(dollars: number): string {
  if (!(dollars > 0)) return "$0";
  if (dollars < 0.000001) return "<$0.000001";
  if (dollars < 0.1) return `$${trimZeros(dollars.toPrecision(2))}`;
  return `$${dollars.toFixed(2)}`;
}

function trimZeros(digits: string): string {
  return digits.includes(".") ? digits.replace(/0+$/, "").replace(/\.$/, "") : digits;
}

/** `0.4ms`, `1.2ms`, `950.0ms`, `1.25s`. */
function duration(ms: number): string {
  return ms < 1000 ? `${Math.max(0, ms).toFixed(1)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

/** Whole percent; `<1%` and `>99%` rather than a rounded 0 or 100. */
function percent(pct: number): string {
  if (pct > 0 && pct < 1) return "<1%";
  if (pct > 99 && pct < 100) return ">99%";
  return `${Math.round(pct)}%`;
}

/** `950`, `12.3k`, `4.5M`, `1.2B`. */
const UNITS: readonly [number, string][] = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];

function compact(n: number): string {
  for (const [size, unit] of UNITS) {
    if (n >= size) return `${trimZeros((n / size).toFixed(1))}${unit}`;
  }
  return `${Math.round(n)}`;
}
