/**
 * Totals of calls, tokens and dollars, and how they are added up from the
 * ledger's counters (`metric\tkind\tmodel` → value). Counts follow
 * llm-cache-proxy v2, so that its readers keep their meaning.
 *
 * @module
 */
import { type CallKind, HIT_KINDS } from "../values/call_kind.ts";

/** Totals for one model. */
export interface ModelTotals {
  calls: number;
  hits: number;
  misses: number;
  errors: number;
  tokensSaved: number;
  tokensSpent: number;
  usdSaved: number;
  usdSpent: number;
}

/** Totals over a period without their breakdowns. */
export interface Summary extends ModelTotals {
  /** Misses that bypassed the cache (cache off, `x-cache-bypass`), counted in `misses` too. */
  bypassed: number;
  /** Hits that joined a call under way (`HIT-COALESCED`), counted in `hits` too. */
  coalesced: number;
  /** Calls passed through uncached (`/v1/*` routes the cache does not serve); not in `calls`. */
  passed: number;
  /** Input and output tokens (no cache tokens) answered from the cache, as v2 counted them. */
  savedIn: number;
  savedOut: number;
  /** Input and output tokens (no cache tokens) paid for upstream, as v2 counted them. */
  spentIn: number;
  spentOut: number;
  /** Hits over hits plus misses, bypassed calls left out, 0 to 1. */
  hitRate: number;
  /** Dollars saved over dollars saved plus spent, in percent. */
  savingsPct: number;
}

/** Totals over a period, as `/stats` shows them. */
export interface Totals extends Summary {
  byKind: Partial<Record<CallKind, number>>;
  models: Record<string, ModelTotals>;
}

/**
 * What is counted for each kind and model: calls, tokens (cache tokens
 * included), dollars, and input and output tokens alone (v2's token figures).
 */
export const METRICS = ["calls", "tokens", "usd", "in", "out"] as const;
/** Counters by `metric\tkind\tmodel`. */
export type Counters = Map<string, number>;

/**
 * The totals within a larger object that carries them (such as `GET /stats`'s body).
 *
 * @param body an object with every field of {@link Totals}
 * @returns just those fields
 */
export function pickTotals(body: Totals): Totals {
  const totals = { ...emptySummary(), byKind: body.byKind, models: body.models };
  for (const name of Object.keys(totals) as (keyof Summary)[]) {
    if (typeof body[name] === "number") totals[name] = body[name];
  }
  return totals;
}

/**
 * Adds the counters up; names that are not a metric of {@link METRICS} are left out.
 *
 * @param counters the ledger's counters
 * @returns the totals, with their ratios
 */
export function totalsOf(counters: Counters): Totals {
  const totals: Totals = { ...emptySummary(), byKind: {}, models: {} };
  for (const [name, value] of counters) {
    const { metric, kind, model } = parseName(name);
    if (!(METRICS as readonly string[]).includes(metric)) continue;
    const perModel = totals.models[model] ??= emptyModel();
    addSummary(totals, metric, kind, value);
    add(perModel, metric, kind, value);
    if (metric === "calls") totals.byKind[kind] = (totals.byKind[kind] ?? 0) + value;
  }
  for (const perModel of Object.values(totals.models)) roundUsd(perModel);
  return withRatios(totals);
}

/** Dollars without the noise of summing floats (0.00039999999999999996 → 0.0004). */
function roundUsd(target: ModelTotals): void {
  target.usdSaved = Math.round(target.usdSaved * 1e10) / 1e10;
  target.usdSpent = Math.round(target.usdSpent * 1e10) / 1e10;
}

/**
 * Fills in the hit rate and savings percentage, and rounds the dollars.
 *
 * @param totals totals whose counts are up to date
 * @returns the same object
 */
export function withRatios<T extends Summary>(totals: T): T {
  roundUsd(totals);
  // A bypassed call is a miss by v2's count, but not a question the cache was asked.
  const decided = totals.hits + totals.misses - totals.bypassed;
  totals.hitRate = decided === 0 ? 0 : totals.hits / decided;
  const dollars = totals.usdSaved + totals.usdSpent;
  totals.savingsPct = dollars === 0 ? 0 : (100 * totals.usdSaved) / dollars;
  return totals;
}

/**
 * Splits a counter's name; the model may itself hold tabs.
 *
 * @param name `metric\tkind\tmodel`
 * @returns its parts
 */
export function parseName(name: string): { metric: string; kind: CallKind; model: string } {
  const first = name.indexOf("\t");
  const second = name.indexOf("\t", first + 1);
  return {
    metric: name.slice(0, first),
    kind: name.slice(first + 1, second) as CallKind,
    model: name.slice(second + 1),
  };
}

/**
 * Adds to the per-model figures. Counts follow llm-cache-proxy v2, so that its
 * readers keep their meaning: `calls` is hits plus misses plus errors; a miss
 * is any call sent upstream to be answered, a bypassed one included; a
 * pass-through of an uncached route is not a call of the cache.
 */
function add(target: ModelTotals, metric: string, kind: CallKind, value: number): void {
  const hit = HIT_KINDS.has(kind);
  if (kind === "PASS") return;
  if (metric === "calls") {
    target.calls += value;
    if (hit) target.hits += value;
    else if (kind === "MISS" || kind === "BYPASS") target.misses += value;
    else if (kind === "ERROR") target.errors += value;
  } else if (metric === "tokens") {
    if (hit) target.tokensSaved += value;
    else target.tokensSpent += value;
  } else if (metric === "usd") {
    if (hit) target.usdSaved += value;
    else target.usdSpent += value;
  }
}

/**
 * Adds to the summary: the per-model figures plus the breakdowns only a summary has.
 *
 * @param target the summary
 * @param metric one of {@link METRICS}
 * @param kind how the calls were served
 * @param value what to add
 */
export function addSummary(target: Summary, metric: string, kind: CallKind, value: number): void {
  add(target, metric, kind, value);
  const hit = HIT_KINDS.has(kind);
  if (metric === "calls") {
    if (kind === "BYPASS") target.bypassed += value;
    else if (kind === "HIT-COALESCED") target.coalesced += value;
    else if (kind === "PASS") target.passed += value;
  } else if (kind !== "PASS" && metric === "in") {
    if (hit) target.savedIn += value;
    else target.spentIn += value;
  } else if (kind !== "PASS" && metric === "out") {
    if (hit) target.savedOut += value;
    else target.spentOut += value;
  }
}

function emptySummary(): Summary {
  return {
    ...emptyModel(),
    bypassed: 0,
    coalesced: 0,
    passed: 0,
    savedIn: 0,
    savedOut: 0,
    spentIn: 0,
    spentOut: 0,
    hitRate: 0,
    savingsPct: 0,
  };
}

function emptyModel(): ModelTotals {
  return {
    calls: 0,
    hits: 0,
    misses: 0,
    errors: 0,
    tokensSaved: 0,
    tokensSpent: 0,
    usdSaved: 0,
    usdSpent: 0,
  };
}
