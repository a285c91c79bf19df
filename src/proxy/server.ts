/**
 * The HTTP face of the proxy: `createHandler(deps)` returns a plain
 * `(Request) => Promise<Response>` that routes, gates on the auth token and
 * turns failures into Anthropic-shaped errors. It never listens itself, so
 * tests call it without a socket; `cli/serve.ts` hands it to `Deno.serve`.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { KeyMemo } from "../cache/key.ts";
import { ParsedRequests } from "../cache/miss_reason.ts";
import type { Config } from "../config.ts";
import { createLogger, type Logger } from "../log.ts";
import { isoTime } from "../clock.ts";
import { VERSION } from "../version.ts";
import type { Stats } from "../stats/stats.ts";
import { NO_USAGE } from "../values/usage.ts";
import type { CacheStore } from "../store/store.ts";
import { BodyCutShort } from "./body.ts";
import { handleEntries } from "./entries.ts";
import { errorResponse, HttpError } from "./errors.ts";
import { BrokenOff, Flight } from "./flight.ts";
import { Flights } from "./flights.ts";
import type { Outcome } from "./call_report.ts";
import { handleMessages, type MessagesContext } from "./messages.ts";
import { EXPLAIN_MEMO_BYTES } from "./miss_explanation.ts";
import { isSafePath } from "./safe_path.ts";
import { forwardRequest } from "./upstream.ts";
import { dashboardView, historyView, metricsView, monitorView, statsView } from "./views.ts";

/** What the handler is built from; everything with a side effect is injected. */
export interface HandlerDeps {
  /** The validated configuration. */
  readonly config: Config;
  /** Where responses are kept. */
  readonly store: CacheStore;
  /** The event bus and its readers (ledger, metrics, monitor, log). */
  readonly stats: Stats;
  /** The upstream fetch. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** @default a logger at `config.logLevel` writing to stderr */
  readonly log?: Logger;
}

/** A request handler for `Deno.serve` or for direct calls in tests. */
export type Handler = (req: Request) => Promise<Response>;

const CACHED_PATHS = new Set(["/v1/messages", "/v1/messages/count_tokens"]);

/**
 * Builds the proxy's request handler.
 *
 * @param deps configuration, store and injected effects
 * @returns the handler
 * @example
 * ```ts
 * const store = SqliteStore.open(":memory:", { maxEntries: 10 });
 * const stats = await openStats(store, config, createLogger("info"));
 * Deno.serve({ port: 4000 }, createHandler({ config, store, stats }));
 * ```
 */
export function createHandler(deps: HandlerDeps): Handler {
  const { config } = deps;
  const log = deps.log ??
    createLogger(config.logLevel, { secrets: [config.apiKey, config.authToken] });
  const ctx: MessagesContext = {
    config,
    store: deps.store,
    flights: new Flights<Outcome>({
      idleMs: config.upstreamTimeoutMs,
      maxRecordBytes: config.maxAnswerBytes,
    }),
    keys: new KeyMemo(config.upstream, { rules: config.normalize }),
    parsedRequests: new ParsedRequests(EXPLAIN_MEMO_BYTES),
    target: { base: config.upstream, apiKey: config.apiKey, fetch: deps.fetch ?? fetch },
    now: deps.now ?? Date.now,
    log,
    stats: deps.stats,
    cacheSwitch: { off: config.off },
  };
  const store = deps.store;
  // The store's state is the one part that changes; "ok" while it serves, "degraded" while a
  // shared store is unreachable (the proxy still answers, bypassing the cache).
  const health = () =>
    JSON.stringify({
      status: "ok",
      pid: Deno.pid,
      version: VERSION,
      store: store.health?.() ?? "ok",
      home: config.home,
    });
  const views: Record<string, (req: Request) => Response | Promise<Response>> = {
    "/stats": () => statsView(ctx),
    "/stats/history": (req) => historyView(ctx, req),
    "/metrics": () => metricsView(ctx),
    "/monitor": () => monitorView(ctx),
  };
  const gate = config.authToken === undefined ? undefined : authGate(config.authToken);
  return async (req) => {
    try {
      const { path, pathAndQuery } = splitUrl(req.url);
      // Before any route: `/v1/../cache/entries` must reach neither upstream nor a local route.
      if (!isSafePath(path)) throw unsafePath();
      if (path === "/health" && req.method === "GET") {
        return new Response(health(), { headers: { "content-type": "application/json" } });
      }
      // The page itself holds no data and a browser cannot add x-cache-auth to a page
      // load; it asks for the token and sends it on every call it makes.
      const page = req.method === "GET" ? dashboardView(path) : undefined;
      if (page) return page;
      gate?.(req);
      if (req.method === "POST" && CACHED_PATHS.has(path)) {
        return await handleMessages(req, { route: path, path: pathAndQuery }, ctx);
      }
      if (path.startsWith("/v1/")) return await passThrough(req, { path, pathAndQuery }, ctx);
      if (req.method === "GET" && Object.hasOwn(views, path)) return await views[path]!(req);
      if (req.method === "POST" && (path === "/cache/off" || path === "/cache/on")) {
        return switchCache(path === "/cache/off", ctx);
      }
      if (path === "/cache/entries" || path.startsWith("/cache/entries/")) {
        return await handleEntries(req, path, ctx.store);
      }
      throw new HttpError(404, "not_found_error", `No route for ${req.method} ${path}`);
    } catch (e) {
      if (e instanceof BodyCutShort) log.debug(`${req.method} ${req.url}: ${e.message}`);
      if (e instanceof HttpError) return errorResponse(e);
      log.error(`Unexpected failure on ${req.method} ${req.url}: ${(e as Error).stack ?? e}`);
      return errorResponse(
        new HttpError(500, "api_error", "The proxy failed unexpectedly; see its log"),
      );
    }
  };
}

/**
 * `Deno.serve`'s `onError`: it is told when a response body breaks off after
 * its head was sent, which the client sees as the connection ending. Without
 * it, Deno prints the error to stderr outside the log. An answer broken off
 * upstream or closed by the proxy has been logged already, so it gets a debug
 * line; anything else is an error.
 *
 * @param log where the lines go
 * @returns the handler, for `Deno.serve({ onError })`
 */
export function serveErrorHandler(log: Logger): (error: unknown) => Response {
  return (error) => {
    if (error instanceof BrokenOff) log.debug(`A response broke off: ${error.message}`);
    else log.error(`Unexpected failure while serving: ${(error as Error)?.stack ?? error}`);
    return errorResponse(
      new HttpError(500, "api_error", "The proxy failed unexpectedly; see its log"),
    );
  };
}

/**
 * Forwards an uncached `/v1/*` request as a flight that records nothing, so
 * it keeps a cached call's bounds: a 504 when upstream sends no head within
 * CACHE_UPSTREAM_TIMEOUT_SEC, the body cut off when upstream goes silent that
 * long, and the upstream call closed when the client leaves. Reported as a
 * PASS once its body has ended.
 */
async function passThrough(
  req: Request,
  { path, pathAndQuery }: { readonly path: string; readonly pathAndQuery: string },
  ctx: MessagesContext,
): Promise<Response> {
  const started = performance.now();
  const flight = new Flight(
    (signal) => forwardRequest(req, ctx.target, { path: pathAndQuery, signal }),
    (_recording, end) => Promise.resolve(end),
    { idleMs: ctx.config.upstreamTimeoutMs, maxRecordBytes: 0 },
  );
  const { head: { status, headers }, subscription } = await flight.follow(req.signal);
  flight.ended.then((end) =>
    ctx.stats.events.emit({
      time: isoTime(ctx.now()),
      kind: "PASS",
      model: null,
      path,
      status,
      bytes: end.bytes,
      durationMs: performance.now() - started,
      usage: NO_USAGE,
      dollars: 0,
      snippet: "",
      key: null,
    })
  );
  return new Response(subscription.stream, { status, headers });
}

/** `POST /cache/off` and `/cache/on`: what `llm-cache-proxy off` and `on` call. */
function switchCache(off: boolean, ctx: MessagesContext): Response {
  if (ctx.cacheSwitch.off !== off) {
    ctx.cacheSwitch.off = off;
    ctx.log.info(off ? "Cache OFF: every call now bypasses the cache" : "Cache ON");
  }
  return Response.json({ off });
}

/** Path and query without building a URL object: this runs on every hit. */
function splitUrl(url: string): { path: string; pathAndQuery: string } {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const pathAndQuery = start < 0 ? "/" : url.slice(start);
  const q = pathAndQuery.indexOf("?");
  return { path: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q), pathAndQuery };
}

function unsafePath(): HttpError {
  return new HttpError(
    400,
    "invalid_request_error",
    "The request path has a dot segment, a backslash, a fragment or an encoded '.', '/', '\\' " +
      "or '%'; the proxy forwards only normalized paths such as /v1/messages",
  );
}

/** Checks `x-cache-auth` in constant time (both sides hashed, so lengths do not leak). */
function authGate(token: string): (req: Request) => void {
  const expected = sha256(token);
  return (req) => {
    const given = req.headers.get("x-cache-auth");
    if (given !== null && timingSafeEqual(sha256(given), expected)) return;
    throw new HttpError(
      401,
      "authentication_error",
      "This proxy needs the header x-cache-auth: <CACHE_AUTH_TOKEN> (ask whoever runs it for the token)",
    );
  };
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}
