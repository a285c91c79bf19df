/**
 * The cached route (`POST /v1/messages`, `POST /v1/messages/count_tokens`):
 * the only place that decides between a hit, joining a flight and a miss.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { KeyMemo } from "../cache/key.ts";
import { entryFor, type Recording } from "../cache/recorder.ts";
import type { Logger } from "../log.ts";
import type { CacheEntry, CacheStore } from "../store/store.ts";
import { readBody } from "./body.ts";
import type { Flight, Flights } from "./flight.ts";
import { replay } from "./replay.ts";
import { forwardRequest, type UpstreamTarget } from "./upstream.ts";

/** What the cached route works with. */
export interface MessagesContext {
  readonly config: Config;
  readonly store: CacheStore;
  readonly flights: Flights;
  readonly keys: KeyMemo;
  readonly target: UpstreamTarget;
  readonly now: () => number;
  readonly log: Logger;
}

/** The cache label a response carries in `x-cache`. */
export type CacheLabel = "HIT" | "HIT-COALESCED" | "MISS" | "BYPASS";

const YES = new Set(["1", "true", "yes"]);

/**
 * Serves one request of the cached route.
 *
 * @param req the client request
 * @param path its path and query, e.g. `/v1/messages?beta=true`
 * @param ctx the store, flights, keys and upstream
 * @returns the response: replayed, joined or forwarded
 */
export async function handleMessages(
  req: Request,
  path: string,
  ctx: MessagesContext,
): Promise<Response> {
  const body = await readBody(req, ctx.config.maxBodyBytes);
  if (ctx.config.off || YES.has(req.headers.get("x-cache-bypass") ?? "")) {
    return labelled(await forwardRequest(req, ctx.target, { body }), "BYPASS");
  }
  const keyRequest = {
    method: req.method,
    path,
    anthropicVersion: req.headers.get("anthropic-version"),
    anthropicBeta: req.headers.get("anthropic-beta"),
    body,
  };
  const key = ctx.keys.known(keyRequest) ?? await ctx.keys.key(keyRequest);
  let hit: CacheEntry | undefined;
  try {
    hit = await ctx.store.get(key);
  } catch (e) {
    ctx.log.error(`Cache read failed, serving from upstream: ${(e as Error).message}`);
  }
  if (hit) return replay(hit);
  const running = ctx.flights.get(key);
  if (running) return follow(running, req, "HIT-COALESCED");
  const flight = ctx.flights.start(
    key,
    (signal) => forwardRequest(req, ctx.target, { body, signal }),
    (recording) => store(ctx, { key, path, body }, recording),
  );
  return follow(flight, req, "MISS");
}

/** Streams a flight to one client; until the head arrives, a disconnect is seen on `req.signal`. */
async function follow(flight: Flight, req: Request, label: CacheLabel): Promise<Response> {
  const subscription = flight.subscribe();
  const leave = () => subscription.leave();
  req.signal.addEventListener("abort", leave, { once: true });
  try {
    const { status, headers } = await flight.head;
    const response = new Response(subscription.stream, { status, headers });
    response.headers.set("x-cache", label);
    return response;
  } finally {
    req.signal.removeEventListener("abort", leave);
  }
}

async function store(
  ctx: MessagesContext,
  request: { key: string; path: string; body: Uint8Array },
  recording: Recording | undefined,
): Promise<void> {
  if (!recording) return;
  const entry = entryFor({
    key: request.key,
    path: request.path,
    model: modelOf(request.body),
    now: ctx.now(),
    ttlSec: ctx.config.ttlSec,
  }, recording);
  if (!entry) return;
  try {
    await ctx.store.put(entry);
  } catch (e) {
    ctx.log.error(
      `Cache write failed, the answer was served but not kept: ${(e as Error).message}`,
    );
  }
}

function modelOf(body: Uint8Array): string | undefined {
  try {
    const model = JSON.parse(new TextDecoder().decode(body))?.model;
    return typeof model === "string" ? model : undefined;
  } catch {
    return undefined;
  }
}

function labelled(response: Response, label: CacheLabel): Response {
  const headers = new Headers(response.headers);
  headers.set("x-cache", label);
  return new Response(response.body, { status: response.status, headers });
}
