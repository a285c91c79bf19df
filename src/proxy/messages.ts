/**
 * The cached route (`POST /v1/messages`, `POST /v1/messages/count_tokens`):
 * the only place that decides between a hit, joining a flight and a miss,
 * and the place that reports each call it serves as one event.
 *
 * @module
 */
import type { KeyMemo } from "../cache/key.ts";
import { type Answer, entryFor, joinChunks, type Recording } from "../cache/recorder.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { isoTime } from "../clock.ts";
import type { CallKind, CallReport } from "../stats/events.ts";
import type { Stats } from "../stats/stats.ts";
import { readAnswer, type Usage } from "../stats/usage.ts";
import type { CacheEntry, CacheStore } from "../store/store.ts";
import { readBody } from "./body.ts";
import { Flight, type Flights } from "./flight.ts";
import { replay } from "./replay.ts";
import type { CacheSwitch } from "./views.ts";
import { forwardRequest, type UpstreamTarget } from "./upstream.ts";

/** What a finished upstream answer was, for every call that received it. */
export interface Outcome {
  readonly status: number;
  readonly bytes: number;
  readonly usage: Usage;
  readonly snippet: string;
  /** False when the body broke off. */
  readonly complete: boolean;
  readonly model: string | undefined;
}

/** What the cached route works with. */
export interface MessagesContext {
  readonly config: Config;
  readonly store: CacheStore;
  readonly flights: Flights<Outcome>;
  readonly keys: KeyMemo;
  readonly target: UpstreamTarget;
  readonly now: () => number;
  readonly log: Logger;
  readonly stats: Stats;
  /** Whether every call bypasses the cache right now. */
  readonly cacheSwitch: CacheSwitch;
}

/** One call being served: when it arrived, where to, and its key. */
interface Call {
  readonly started: number;
  /** Path and query, as keyed and stored. */
  readonly path: string;
  /** Path without the query, as reported. */
  readonly route: string;
  readonly key: string | null;
}

const YES = new Set(["1", "true", "yes"]);

/**
 * Serves one request of the cached route.
 *
 * @param req the client request
 * @param url its path (`route`, e.g. `/v1/messages`) and path with query (`path`)
 * @param ctx the store, flights, keys, upstream and stats
 * @returns the response: replayed, joined or forwarded
 */
export async function handleMessages(
  req: Request,
  url: { readonly route: string; readonly path: string },
  ctx: MessagesContext,
): Promise<Response> {
  const { route, path } = url;
  const started = performance.now();
  const body = await readBody(req, ctx.config.maxBodyBytes);
  const forward = (signal: AbortSignal) => forwardRequest(req, ctx.target, { body, signal });
  if (ctx.cacheSwitch.off || YES.has(req.headers.get("x-cache-bypass") ?? "")) {
    const flight = new Flight(
      forward,
      (recording, complete) => Promise.resolve(outcomeOf(answerOf(recording), complete, body)),
    );
    return follow(flight, req, "BYPASS", { started, path, route, key: null }, ctx);
  }
  const keyRequest = {
    method: req.method,
    path,
    anthropicVersion: req.headers.get("anthropic-version"),
    anthropicBeta: req.headers.get("anthropic-beta"),
    body,
  };
  const key = ctx.keys.known(keyRequest) ?? await ctx.keys.key(keyRequest);
  const call = { started, path, route, key };
  let hit: CacheEntry | undefined;
  try {
    hit = await ctx.store.get(key);
  } catch (e) {
    ctx.log.error(`Cache read failed, serving from upstream: ${(e as Error).message}`);
  }
  if (hit) {
    ctx.stats.events.emit(hitReport(hit, call, ctx));
    return replay(hit);
  }
  const running = ctx.flights.get(key);
  if (running) return follow(running, req, "HIT-COALESCED", call, ctx);
  const flight = ctx.flights.start(
    key,
    forward,
    (recording, complete) => finish(ctx, call, body, recording, complete),
  );
  return follow(flight, req, "MISS", call, ctx);
}

/**
 * Streams a flight to one client and reports the call when the answer ends.
 * Until the head arrives, a disconnect is seen on `req.signal`.
 */
async function follow(
  flight: Flight<Outcome>,
  req: Request,
  label: CallKind,
  call: Call,
  ctx: MessagesContext,
): Promise<Response> {
  const subscription = flight.subscribe();
  const leave = () => subscription.leave();
  req.signal.addEventListener("abort", leave, { once: true });
  try {
    const { status, headers } = await flight.head;
    const response = new Response(subscription.stream, { status, headers });
    response.headers.set("x-cache", label);
    flight.ended.then((outcome) => ctx.stats.events.emit(flightReport(outcome, label, call, ctx)));
    return response;
  } finally {
    req.signal.removeEventListener("abort", leave);
  }
}

/** Reads what the answer used, stores it if it is a complete 200, and never throws. */
async function finish(
  ctx: MessagesContext,
  call: Call,
  requestBody: Uint8Array,
  recording: Recording,
  complete: boolean,
): Promise<Outcome> {
  const answer = answerOf(recording);
  const outcome = outcomeOf(answer, complete, requestBody);
  if (!complete) return outcome;
  const entry = entryFor({
    key: call.key!,
    path: call.path,
    model: outcome.model,
    now: ctx.now(),
    ttlSec: ctx.config.ttlSec,
    usage: outcome.usage,
    snippet: outcome.snippet,
  }, answer);
  if (!entry) return outcome;
  try {
    await ctx.store.put(entry);
  } catch (e) {
    ctx.log.error(
      `Cache write failed, the answer was served but not kept: ${(e as Error).message}`,
    );
  }
  return outcome;
}

/** The recorded answer as one body: joined once, then read and stored from that copy. */
function answerOf(recording: Recording): Answer {
  return {
    status: recording.status,
    contentType: recording.headers.get("content-type") ?? "",
    body: joinChunks(recording.chunks),
  };
}

function outcomeOf(answer: Answer, complete: boolean, requestBody: Uint8Array): Outcome {
  const { usage, snippet } = readAnswer(answer.contentType, answer.body);
  return {
    status: answer.status,
    bytes: answer.body.byteLength,
    usage,
    snippet,
    complete,
    model: modelOf(requestBody),
  };
}

function hitReport(entry: CacheEntry, call: Call, ctx: MessagesContext): CallReport {
  return report(call, ctx, "HIT", entry.model, entry.status, entry.body.byteLength, entry);
}

function flightReport(
  outcome: Outcome,
  label: CallKind,
  call: Call,
  ctx: MessagesContext,
): CallReport {
  const kind = !outcome.complete || outcome.status >= 400 ? "ERROR" : label;
  return report(call, ctx, kind, outcome.model, outcome.status, outcome.bytes, outcome);
}

/** One call's report, built as a single object: this runs on every hit. */
function report(
  call: Call,
  ctx: MessagesContext,
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
    key: call.key?.slice(0, 12) ?? null,
  };
}

function modelOf(body: Uint8Array): string | undefined {
  try {
    const model = JSON.parse(new TextDecoder().decode(body))?.model;
    return typeof model === "string" ? model : undefined;
  } catch {
    return undefined;
  }
}
