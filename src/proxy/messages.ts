/**
 * The cached route (`POST /v1/messages`, `POST /v1/messages/count_tokens`):
 * the only place that decides between a hit, joining a flight and a miss,
 * and the place that reports each call it serves as one event.
 *
 * @module
 */
import type { ParsedRequests } from "../cache/miss_reason.ts";
import type { Recording } from "../cache/recorder.ts";
import type { KeyMemo, KeyRequest } from "../cache/key.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { CallKind } from "../values/call_kind.ts";
import type { Stats } from "../stats/stats.ts";
import { NO_USAGE } from "../values/usage.ts";
import type { CachedAnswer, CacheStore } from "../store/store.ts";
import { readBody } from "./body.ts";
import {
  answerOf,
  flightReport,
  hitReport,
  modelOf,
  type Outcome,
  outcomeOf,
  report,
  type ReportedCall,
  SHORT_KEY,
} from "./call_report.ts";
import { type Controls, readControls } from "./controls.ts";
import { errorResponse, HttpError } from "./errors.ts";
import { type BodyEnd, Flight } from "./flight.ts";
import type { Flights } from "./flights.ts";
import { replay } from "./replay.ts";
import { coordinate, type Lease, publishing, relay } from "./shared_flight.ts";
import type { CacheSwitch } from "./views.ts";
import { forwardRequest, type UpstreamTarget } from "./upstream.ts";
import { v2Hit } from "./v2_tier.ts";
import { type Explaining, explainMiss, type MissedCall, whileWaiting } from "./miss_explanation.ts";
import { finishMiss, logStoreFailure, type MissPlan } from "./finish_miss.ts";

/** What the cached route works with. */
export interface MessagesContext {
  readonly config: Config;
  readonly store: CacheStore;
  readonly flights: Flights<Outcome>;
  readonly keys: KeyMemo;
  /** Stored requests parsed by earlier miss explanations. */
  readonly parsedRequests: ParsedRequests;
  readonly target: UpstreamTarget;
  readonly now: () => number;
  readonly log: Logger;
  readonly stats: Stats;
  /** Whether every call bypasses the cache right now. */
  readonly cacheSwitch: CacheSwitch;
}

/** One call being served: when it arrived, where to, and its key. */
interface Call extends ReportedCall {
  /** Path and query, as keyed and stored. */
  readonly path: string;
  readonly controls: Controls;
}

/** The call as the miss's explanation and its storing see it. */
function missed(call: Call): MissedCall {
  return { path: call.path, key: call.key, namespace: call.controls.namespace };
}

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
  const controls = readControls(req.headers);
  const keyRequest: KeyRequest = {
    method: req.method,
    path,
    anthropicVersion: req.headers.get("anthropic-version"),
    anthropicBeta: req.headers.get("anthropic-beta"),
    namespace: controls.namespace,
    body,
  };
  const key = ctx.keys.known(keyRequest) ?? await ctx.keys.key(keyRequest);
  const call: Call = { started, path, route, key, controls, namespace: controls.namespace };
  const forward = (signal: AbortSignal) => forwardRequest(req, ctx.target, { body, signal, path });
  const passThrough = (recording: Recording, end: BodyEnd) =>
    Promise.resolve(outcomeOf(answerOf(recording), end, body));
  if (ctx.cacheSwitch.off || controls.bypass) {
    const flight = new Flight(forward, passThrough, ctx.flights.limits);
    return follow(flight, req, "BYPASS", call, ctx);
  }
  if (ctx.store.health?.() === "degraded") {
    // The store is down, not the cache: identical calls still share one upstream call.
    const running = ctx.flights.get(key);
    if (running) return follow(running, req, "HIT-COALESCED", call, ctx);
    return follow(ctx.flights.start(key, forward, passThrough), req, "BYPASS", call, ctx);
  }
  const mode = controls.mode ?? ctx.config.mode;
  const fresh = mode !== "record" && !controls.refresh;
  if (fresh) {
    const hit = await read(() => ctx.store.get(key), ctx);
    if (hit) return served(hit, "HIT", call, ctx);
  }
  const tiers = await ctx.keys.tiers(keyRequest);
  if (fresh) {
    for (const [kind, alias] of [["HIT-NORM", tiers.normalized], ["HIT-SUFFIX", tiers.suffix]]) {
      const hit = alias === undefined ? undefined : await read(() => ctx.store.get(alias), ctx);
      if (hit) return served(hit, kind as CallKind, call, ctx);
    }
    const lookup = { route, path, namespace: controls.namespace, key, body, tiers };
    const v2 = await read(() => v2Hit(lookup, ctx), ctx);
    if (v2) return served(v2, "HIT-V2", call, ctx);
  }
  const running = ctx.flights.get(key);
  if (running) return follow(running, req, "HIT-COALESCED", call, ctx);
  if (mode === "replay") {
    return replayMiss(call, modelOf(body), await explainMiss(body, missed(call), ctx), ctx);
  }
  let lease: Lease | undefined;
  const { locks } = ctx.store;
  if (fresh && locks) {
    const stop = new AbortController();
    const shared = await coordinate(
      key,
      locks,
      ctx.config.lockSec * 1000,
      (k) => read(() => ctx.store.get(k), ctx),
      stop.signal,
    );
    if (shared.entry) return served(shared.entry, "HIT-COALESCED", call, ctx);
    const joined = ctx.flights.get(key); // a request here started one while this one waited
    if (joined) {
      const following = follow(joined, req, "HIT-COALESCED", call, ctx); // joins at once
      await shared.lock?.release();
      await shared.answer?.body?.cancel();
      return await following;
    }
    if (shared.answer) {
      const relayed = ctx.flights.start(key, relay(shared.answer, stop), passThrough);
      return follow(relayed, req, "HIT-COALESCED", call, ctx);
    }
    lease = shared.lock;
  }
  const plan: MissPlan = {
    body,
    aliases: [tiers.normalized, tiers.suffix].filter((k): k is string => k !== undefined),
    ttlSec: controls.ttlSec ?? ctx.config.ttlSec,
    lease,
  };
  const upstream = lease ? publishing(forward, lease) : forward;
  const flight = ctx.flights.start(
    key,
    upstream,
    (recording, end) => finishMiss(ctx, missed(call), plan, recording, end),
    lease && (() => lease.followed()), // another instance may still be reading it
  );
  const why = whileWaiting(flight.head, () => explainMiss(body, missed(call), ctx));
  return follow(flight, req, "MISS", call, ctx, why);
}

/** A store read that fails open: a broken store is a miss, logged. */
async function read(
  get: () => Promise<CachedAnswer | undefined>,
  ctx: MessagesContext,
): Promise<CachedAnswer | undefined> {
  try {
    return await get();
  } catch (e) {
    logStoreFailure(ctx, "Cache read failed, serving from upstream", e);
    return undefined;
  }
}

/** Replays a stored entry as `kind` and reports it. */
function served(entry: CachedAnswer, kind: CallKind, call: Call, ctx: MessagesContext): Response {
  ctx.stats.events.emit(hitReport(entry, kind, call, ctx));
  const response = replay(entry, call.controls.realtime);
  if (kind !== "HIT") response.headers.set("x-cache", kind);
  response.headers.set("x-cache-key", call.key.slice(0, SHORT_KEY));
  response.headers.set(
    "x-cache-age",
    String(Math.max(0, Math.floor((ctx.now() - entry.createdAt) / 1000))),
  );
  return response;
}

/** Replay mode: a miss never goes upstream; it fails at once and says how to record it. */
function replayMiss(
  call: Call,
  model: string | undefined,
  why: string | undefined,
  ctx: MessagesContext,
): Response {
  const short = call.key.slice(0, SHORT_KEY);
  const error = new HttpError(
    404,
    "not_found_error",
    `llm-cache-proxy is in replay mode and has no recorded answer for this request (key ${short}` +
      `${why ? `; nearest stored request: ${why}` : ""}). Record it by sending it once with ` +
      `CACHE_MODE=record (or normal), or with the header x-cache-mode: record`,
  );
  const response = errorResponse(error, {
    "x-cache": "MISS",
    "x-cache-key": short,
    ...(why ? { "x-cache-miss": why } : {}),
  });
  ctx.stats.events.emit(
    report(call, ctx, "ERROR", model, 404, 0, { usage: NO_USAGE, snippet: "" }),
  );
  return response;
}

/**
 * Streams a flight to one client and reports the call when the answer ends.
 * Until the head arrives, a disconnect is seen on `req.signal`. When upstream
 * fails and a recently expired answer is kept, that is served instead (STALE).
 */
async function follow(
  flight: Flight<Outcome>,
  req: Request,
  label: CallKind,
  call: Call,
  ctx: MessagesContext,
  why?: Explaining<string>,
): Promise<Response> {
  const { head: { status, headers }, subscription } = await flight.follow(req.signal);
  if (label !== "BYPASS" && failed(status) && ctx.config.staleSec > 0) {
    const stale = await read(() => ctx.store.getStale(call.key, ctx.config.staleSec * 1000), ctx);
    if (stale) {
      subscription.leave();
      return served(stale, "STALE", call, ctx);
    }
  }
  const response = new Response(subscription.stream, { status, headers });
  response.headers.set("x-cache", label);
  response.headers.set("x-cache-key", call.key.slice(0, SHORT_KEY));
  // Only an explanation that is ready by now: waiting for it would delay the first byte.
  if (why?.value) response.headers.set("x-cache-miss", why.value);
  flight.ended.then((outcome) => ctx.stats.events.emit(flightReport(outcome, label, call, ctx)));
  return response;
}

/** Upstream failures that stale-if-error covers: overloaded, rate-limited, 5xx, unreachable. */
function failed(status: number): boolean {
  return status === 429 || status >= 500;
}
