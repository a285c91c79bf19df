/**
 * How the cached route reports what it served: the answer read once (usage,
 * snippet, model), and one call event built as a single object, since this
 * runs on every hit.
 *
 * @module
 */
import { nestsTooDeep } from "../cache/canonical_json.ts";
import { type Answer, joinChunks, type Recording, timingOf } from "../cache/recorder.ts";
import { isoTime } from "../clock.ts";
import type { CallReport } from "../stats/events.ts";
import type { CallKind } from "../values/call_kind.ts";
import type { Stats } from "../stats/stats.ts";
import { readAnswer } from "../stats/usage.ts";
import { type Usage } from "../values/usage.ts";
import type { CachedAnswer } from "../store/store.ts";
import type { BodyEnd } from "./flight.ts";

/** The short key prefix responses carry in `x-cache-key` (and `explore --view` accepts). */
export const SHORT_KEY = 12;

/** What a finished upstream answer was, for every call that received it. */
export interface Outcome {
  readonly status: number;
  readonly bytes: number;
  readonly usage: Usage;
  readonly snippet: string;
  /** False when the body broke off. */
  readonly complete: boolean;
  /** True when the answer outgrew CACHE_MAX_ANSWER_BYTES: relayed, not recorded. */
  readonly oversize: boolean;
  readonly model: string | undefined;
}

/** What a report needs to know of a call: when it arrived, its route and key. */
export interface ReportedCall {
  readonly started: number;
  /** Path without the query, as reported. */
  readonly route: string;
  readonly key: string;
  /** The key space (`x-cache-namespace`), `""` for the default one. */
  readonly namespace: string;
}

/** What a report reads: the clock and the prices. */
export interface ReportContext {
  readonly now: () => number;
  readonly stats: Stats;
}

/** The recorded answer as one body: joined once, then read and stored from that copy. */
export function answerOf(recording: Recording): Answer {
  return {
    status: recording.status,
    contentType: recording.headers.get("content-type") ?? "",
    body: joinChunks(recording.chunks),
    timing: timingOf(recording),
  };
}

/** What an answer was, for every call that received it (usage unknown past the cap). */
export function outcomeOf(
  answer: Answer,
  end: Pick<BodyEnd, "how" | "oversize" | "bytes">,
  requestBody: Uint8Array,
): Outcome {
  const { usage, snippet } = readAnswer(answer.contentType, answer.body);
  return {
    status: answer.status,
    bytes: end.bytes,
    usage,
    snippet,
    complete: end.how === "complete",
    oversize: end.oversize,
    model: modelOf(requestBody),
  };
}

/** The report of a call answered from the cache. */
export function hitReport(
  entry: CachedAnswer,
  kind: CallKind,
  call: ReportedCall,
  ctx: ReportContext,
): CallReport {
  return report(call, ctx, kind, entry.model, entry.status, entry.body.byteLength, entry);
}

/** The report of a call answered by a flight: ERROR when it failed or broke off. */
export function flightReport(
  outcome: Outcome,
  label: CallKind,
  call: ReportedCall,
  ctx: ReportContext,
): CallReport {
  const kind = !outcome.complete || outcome.status >= 400 ? "ERROR" : label;
  const called = report(call, ctx, kind, outcome.model, outcome.status, outcome.bytes, outcome);
  // Followers received the same answer: the call that made it counts it, once.
  return outcome.oversize && label !== "HIT-COALESCED" ? { ...called, oversize: true } : called;
}

/** One call's report, built as a single object: this runs on every hit. */
export function report(
  call: ReportedCall,
  ctx: ReportContext,
  kind: CallKind,
  model: string | undefined,
  status: number,
  bytes: number,
  answer: { readonly usage: Usage; readonly snippet: string },
): CallReport {
  return {
    time: isoTime(ctx.now()),
    kind,
    model: model ?? null,
    path: call.route,
    status,
    bytes,
    durationMs: Math.round((performance.now() - call.started) * 1000) / 1000, // to the µs
    usage: answer.usage,
    dollars: Math.round(ctx.stats.prices.costOf(model, answer.usage) * 1e10) / 1e10,
    snippet: answer.snippet,
    key: call.key.slice(0, SHORT_KEY),
    namespace: call.namespace,
  };
}

/** The `model` a request body names, if any; none for a body nested too deep to parse cheaply. */
export function modelOf(body: Uint8Array): string | undefined {
  try {
    const text = new TextDecoder().decode(body);
    if (nestsTooDeep(text)) return undefined;
    const model = JSON.parse(text)?.model;
    return typeof model === "string" ? model : undefined;
  } catch {
    return undefined;
  }
}
