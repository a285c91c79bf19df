// @ts-check
/**
 * The dashboard page's script: it wires the page's parts and starts them.
 * Headline numbers from `/stats` (stats_panel.js), charts from
 * `/stats/history` continued live from `/monitor` with filters by range,
 * kind, model and namespace (history_charts.js, monitor.js), recent calls
 * (recent_calls.js), and the cache browser over `/cache/entries`
 * (entries_list.js) with an entry's request, why it missed, and Invalidate,
 * asked twice (entry.js).
 *
 * @module
 */
import { onTokenNeeded } from "./api.js";
import { report, setText } from "./dom.js";
import { onInvalidated } from "./entry.js";
import { loadEntries } from "./entries_list.js";
import { fillFilters, loadHistory, scheduleCharts } from "./history_charts.js";
import { monitor } from "./monitor.js";
import { showWaiting } from "./recent_calls.js";
import { refreshStats, renderUptime, scheduleStats } from "./stats_panel.js";
import { askToken } from "./token_form.js";

onTokenNeeded(askToken);
onInvalidated(() => {
  loadEntries().catch(report);
  scheduleStats(0);
});
setText("host", location.host);
showWaiting();
fillFilters();
refreshStats().catch(report);
loadHistory().catch(report);
loadEntries().catch(report);
monitor().catch(report);
setInterval(() => refreshStats().catch(report), 5000);
setInterval(renderUptime, 1000);
setInterval(scheduleCharts, 15000);
