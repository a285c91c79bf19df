/**
 * Read-only views over the stats: `GET /stats` (JSON), `GET /metrics`
 * (Prometheus), `GET /monitor` (SSE) and the dashboard at `GET /`.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { DASHBOARD_HTML } from "../stats/dashboard.ts";
import { METRICS_CONTENT_TYPE } from "../stats/metrics.ts";
import type { LastCall } from "../stats/ledger.ts";
import type { Totals } from "../stats/totals.ts";
import type { Stats } from "../stats/stats.ts";
import { type V2Counters, v2Counters } from "../stats/v2_view.ts";
import type { CacheStore } from "../store/store.ts";

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
 * `GET /`: the dashboard page, embedded in the binary.
 *
 * @returns the HTML response
 */
export function dashboardView(): Response {
  return new Response(DASHBOARD_HTML, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:",
    },
  });
}
