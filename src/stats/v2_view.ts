/**
 * The figures of llm-cache-proxy v2's `GET /stats`, with v2's names, units
 * and rounding, so that the scripts, dashboards and alerts written against v2
 * keep working: `hit_rate_pct` is a percentage of all calls, dollars have four
 * decimals, and token figures count input and output tokens only, as v2 did.
 *
 * @module
 */
import type { Summary } from "./totals.ts";

/** One set of v2's counters (all time at the top of `/stats`, this run under `session`). */
export interface V2Counters {
  calls: number;
  hits: number;
  coalesced: number;
  misses: number;
  errors: number;
  /** Hits over calls, in percent, two decimals. */
  "hit_rate_pct": number;
  "tokens_saved": number;
  "tokens_saved_in": number;
  "tokens_saved_out": number;
  /** Four decimals. */
  "usd_saved": number;
  "tokens_spent": number;
  /** Four decimals. */
  "usd_spent": number;
  /** Dollars saved over dollars saved plus spent, in percent, two decimals. */
  "savings_pct": number;
}

/**
 * v2's view of a set of totals.
 *
 * @param t the totals (all time, or this run)
 * @returns the same figures as v2 named and rounded them
 */
export function v2Counters(t: Summary): V2Counters {
  const dollars = t.usdSaved + t.usdSpent;
  return {
    calls: t.calls,
    hits: t.hits,
    coalesced: t.coalesced,
    misses: t.misses,
    errors: t.errors,
    "hit_rate_pct": round(t.calls === 0 ? 0 : (100 * t.hits) / t.calls, 2),
    "tokens_saved": t.savedIn + t.savedOut,
    "tokens_saved_in": t.savedIn,
    "tokens_saved_out": t.savedOut,
    "usd_saved": round(t.usdSaved, 4),
    "tokens_spent": t.spentIn + t.spentOut,
    "usd_spent": round(t.usdSpent, 4),
    "savings_pct": round(dollars === 0 ? 0 : (100 * t.usdSaved) / dollars, 2),
  };
}

function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}
