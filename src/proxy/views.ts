/**
 * Read-only views over the stats: `GET /stats` (JSON), `GET /metrics`
 * (Prometheus), `GET /monitor` (SSE) and the dashboard at `GET /`.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { DASHBOARD_CSP, DASHBOARD_FILES } from "../stats/dashboard.ts";
import { HISTORY_RANGES, isHistoryRange } from "../stats/history.ts";
import { METRICS_CONTENT_TYPE } from "../stats/metrics.ts";
import type { Stats } from "../stats/stats.ts";
import type { CacheStore } from "../store/store.ts";
import { HttpError } from "./errors.ts";

/** What the views read. */
export interface ViewContext {
  readonly config: Config;
  readonly store: CacheStore;
  readonly stats: Stats;
  /** Whether the cache is bypassed right now (`llm-cache-proxy off`). */
  readonly cacheSwitch: CacheSwitch;
}

/** The cache's on/off state, which `POST /cache/off` and `/cache/on` change at run time. */
export interface CacheSwitch {
  off: boolean;
}

/**
 * `GET /stats`: all-time totals at the top level, this process's under `session`.
 *
 * @param ctx the stats, store and config
 * @returns the JSON response
 */
export async function statsView(ctx: ViewContext): Promise<Response> {
  const { ledger, startedAt } = ctx.stats;
  return Response.json({
    ...ledger.allTime(),
    cache: {
      entries: await ctx.store.count(),
      bytes: await ctx.store.bytes(),
      off: ctx.cacheSwitch.off,
      store: ctx.store.health?.() ?? "ok",
    },
    lastCall: ledger.lastCall() ?? null,
    uptimeSec: Math.round((Date.now() - startedAt) / 1000),
    startedAt: new Date(startedAt).toISOString(),
    session: ledger.session(),
  });
}

/**
 * `GET /stats/history?range=1h|6h|24h|7d|30d`: per-minute (up to 24h) or
 * per-hour rows by kind, model and namespace, for the dashboard's charts.
 *
 * @param ctx the stats
 * @param req the request, for its `range` (default `1h`)
 * @returns the JSON response
 * @throws {HttpError} 400 for an unknown range
 */
export async function historyView(ctx: ViewContext, req: Request): Promise<Response> {
  const range = new URL(req.url).searchParams.get("range") ?? "1h";
  if (!isHistoryRange(range)) {
    throw new HttpError(
      400,
      "invalid_request_error",
      `range=${range} is not served: use one of ${Object.keys(HISTORY_RANGES).join(", ")}`,
    );
  }
  const startedAt = new Date(ctx.stats.startedAt).toISOString(); // as /monitor names the process
  return Response.json({ ...await ctx.stats.history.read(range), startedAt });
}

/**
 * `GET /metrics`: the Prometheus text exposition.
 *
 * @param ctx the stats and store
 * @returns the text response
 */
export async function metricsView(ctx: ViewContext): Promise<Response> {
  const { ledger, metrics, startedAt } = ctx.stats;
  const text = metrics.render({
    counters: ledger.counters(),
    totals: ledger.allTime(),
    entries: await ctx.store.count(),
    bytes: await ctx.store.bytes(),
    uptimeSec: (Date.now() - startedAt) / 1000,
  });
  return new Response(text, { headers: { "content-type": METRICS_CONTENT_TYPE } });
}

/**
 * `GET /monitor`: one SSE event per served call.
 *
 * @param ctx the stats
 * @returns the event stream
 */
export function monitorView(ctx: ViewContext): Response {
  return new Response(ctx.stats.monitor.connect(), {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
  });
}

/**
 * `GET /` and the page's files (`/dashboard.js`, `/dashboard.css`, …),
 * embedded in the binary. They hold no data, so they need no token.
 *
 * @param path the request's path
 * @returns the file, or undefined when `path` is not one of them
 */
export function dashboardView(path: string): Response | undefined {
  const file = DASHBOARD_FILES.get(path);
  if (!file) return undefined;
  return new Response(file.text, {
    headers: {
      "content-type": file.contentType,
      "content-security-policy": DASHBOARD_CSP,
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    },
  });
}
