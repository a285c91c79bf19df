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
import type { LastCall } from "../stats/ledger.ts";
import type { Totals } from "../stats/totals.ts";
import type { Stats } from "../stats/stats.ts";
import { type V2Counters, v2Counters } from "../stats/v2_view.ts";
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

/** What `GET /stats` answers. */
export interface StatsBody extends Totals, V2Counters {
  /** v2's: whether the cache is on (`llm-cache-proxy off` turns it off). */
  readonly cache: "on" | "off";
  /** v2's: seconds since the proxy started. */
  readonly "uptime_s": number;
  /** The store: its entries, their bytes, and whether it is reachable. */
  readonly store: {
    readonly entries: number;
    readonly bytes: number;
    readonly state: "ok" | "degraded";
  };
  readonly lastCall: LastCall | null;
  readonly uptimeSec: number;
  readonly startedAt: string;
  /** This process's figures, in both namings. */
  readonly session: Totals & V2Counters;
}

/**
 * `GET /stats`: all-time totals at the top level, this process's under
 * `session`; every field of llm-cache-proxy v2's `/stats` is there too, with
 * its name and meaning (see `stats/v2_view.ts`).
 *
 * @param ctx the stats, store and config
 * @returns the JSON response
 */
export async function statsView(ctx: ViewContext): Promise<Response> {
  const { ledger, startedAt } = ctx.stats;
  const allTime = ledger.allTime();
  const session = ledger.session();
  const uptimeSec = Math.round((Date.now() - startedAt) / 1000);
  const body: StatsBody = {
    "uptime_s": uptimeSec,
    cache: ctx.cacheSwitch.off ? "off" : "on",
    ...v2Counters(allTime),
    ...allTime,
    store: {
      entries: await ctx.store.count(),
      bytes: await ctx.store.bytes(),
      state: ctx.store.health?.() ?? "ok",
    },
    lastCall: ledger.lastCall() ?? null,
    uptimeSec,
    startedAt: new Date(startedAt).toISOString(),
    session: { ...v2Counters(session), ...session },
  };
  return Response.json(body);
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
