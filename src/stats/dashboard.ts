/**
 * The web dashboard: an HTML page, its stylesheet and its JavaScript modules,
 * kept as real files in `dashboard/` and embedded in the binary as text
 * imports, so `deno compile` needs no `--include` and the page loads nothing
 * but the proxy's own files and endpoints (`/stats`, `/stats/history`,
 * `/monitor`, `/cache/entries`). The modules are checked by `deno check` and
 * `deno lint` like the rest of the code (`// @ts-check`, JSDoc types).
 *
 * @module
 */
import API_JS from "./dashboard/api.js?embed" with { type: "text" };
import CHARTS_JS from "./dashboard/charts.js?embed" with { type: "text" };
import DASHBOARD_CSS from "./dashboard/dashboard.css?embed" with { type: "text" };
import DASHBOARD_JS from "./dashboard/dashboard.js?embed" with { type: "text" };
import DOM_JS from "./dashboard/dom.js?embed" with { type: "text" };
import ENTRIES_LIST_JS from "./dashboard/entries_list.js?embed" with { type: "text" };
import ENTRY_JS from "./dashboard/entry.js?embed" with { type: "text" };
import FORMAT_USD_JS from "../format_usd.js?embed" with { type: "text" };
import HIT_KINDS_JS from "../values/hit_kinds.js?embed" with { type: "text" };
import HISTORY_CHARTS_JS from "./dashboard/history_charts.js?embed" with { type: "text" };
import INDEX_HTML from "./dashboard/index.html?embed" with { type: "text" };
import MONITOR_JS from "./dashboard/monitor.js?embed" with { type: "text" };
import PANELS_JS from "./dashboard/panels.js?embed" with { type: "text" };
import RECENT_CALLS_JS from "./dashboard/recent_calls.js?embed" with { type: "text" };
import SERIES_JS from "./dashboard/series.js?embed" with { type: "text" };
import STATE_JS from "./dashboard/state.js?embed" with { type: "text" };
import STATS_PANEL_JS from "./dashboard/stats_panel.js?embed" with { type: "text" };
import TEXT_JS from "./dashboard/text.js?embed" with { type: "text" };
import TOKEN_FORM_JS from "./dashboard/token_form.js?embed" with { type: "text" };

/** One file of the page. */
export interface DashboardFile {
  readonly contentType: string;
  readonly text: string;
}

const JS = "text/javascript; charset=utf-8";

/** The page's files by the path the proxy serves them at. */
export const DASHBOARD_FILES: ReadonlyMap<string, DashboardFile> = new Map([
  ["/", { contentType: "text/html; charset=utf-8", text: INDEX_HTML }],
  ["/dashboard.css", { contentType: "text/css; charset=utf-8", text: DASHBOARD_CSS }],
  ["/dashboard.js", { contentType: JS, text: DASHBOARD_JS }],
  ["/api.js", { contentType: JS, text: API_JS }],
  ["/charts.js", { contentType: JS, text: CHARTS_JS }],
  ["/dom.js", { contentType: JS, text: DOM_JS }],
  ["/entries_list.js", { contentType: JS, text: ENTRIES_LIST_JS }],
  ["/entry.js", { contentType: JS, text: ENTRY_JS }],
  ["/history_charts.js", { contentType: JS, text: HISTORY_CHARTS_JS }],
  ["/monitor.js", { contentType: JS, text: MONITOR_JS }],
  ["/panels.js", { contentType: JS, text: PANELS_JS }],
  ["/recent_calls.js", { contentType: JS, text: RECENT_CALLS_JS }],
  ["/state.js", { contentType: JS, text: STATE_JS }],
  ["/stats_panel.js", { contentType: JS, text: STATS_PANEL_JS }],
  ["/text.js", { contentType: JS, text: TEXT_JS }],
  ["/series.js", { contentType: JS, text: SERIES_JS }],
  ["/token_form.js", { contentType: JS, text: TOKEN_FORM_JS }],
  ["/format_usd.js", { contentType: JS, text: FORMAT_USD_JS }],
  ["/values/hit_kinds.js", { contentType: JS, text: HIT_KINDS_JS }],
]);

/**
 * What the page may load: its own files and endpoints only, no inline script
 * or style, no frames around it.
 */
export const DASHBOARD_CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'; object-src 'none'";
