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
import {
  formatCompact as compact,
  formatMs as duration,
  formatPct as percent,
  formatUsd as usd,
} from "../format.ts";
import type { Logger } from "../log.ts";
import type { CallEvent, EventBus } from "./events.ts";
import type { Summary } from "./totals.ts";

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

/**
 * Input, output, cache-read and cache-write tokens of a call.
 *
 * @param event the call
 * @returns the tokens it used (or, for a hit, saved)
 */
export function callTokens(event: CallEvent): number {
  const u = event.usage;
  return u.input_tokens + u.output_tokens + u.cache_read_input_tokens +
    u.cache_creation_input_tokens;
}
