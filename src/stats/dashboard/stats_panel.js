// @ts-check
/**
 * The headline numbers and the table by model, from `/stats`, for all time or
 * this session, and how long the proxy has been up.
 *
 * @module
 */
import { json } from "./api.js";
import { $, el, messageOf, setText, showBanner, throttled } from "./dom.js";
import { fillFilters } from "./history_charts.js";
import { state } from "./state.js";
import {
  fmtBytes,
  fmtCompact,
  fmtDuration,
  fmtInt,
  fmtUsd,
  hhmm,
  pct,
  plural,
  shortModel,
} from "./text.js";

/** @type {any} */
let stats = null;
let statsAt = 0;
let scope = "all";
let statsBusy = false, statsAgain = false;

/** Refreshes the numbers once within the delay given (ms). */
export const scheduleStats = throttled(() => refreshStats());

/** Loads `/stats` and shows it; asked while loading, loads again after. */
export async function refreshStats() {
  if (statsBusy) {
    statsAgain = true;
    return;
  }
  statsBusy = true;
  try {
    stats = await json("/stats");
    statsAt = Date.now();
    showBanner("");
    renderStats();
  } catch (e) {
    showBanner("Could not load /stats: " + messageOf(e));
  } finally {
    statsBusy = false;
    if (statsAgain) {
      statsAgain = false;
      scheduleStats(100);
    }
  }
}

function renderStats() {
  if (!stats) return;
  const s = scope === "session" && stats.session ? stats.session : stats;
  // /stats counts a bypassed call as a miss, as v2 did; the page shows the cache's own misses.
  const hits = s.hits || 0, misses = (s.misses || 0) - (s.bypassed || 0), calls = s.calls || 0;
  const rate = Number(s.hitRate) || 0; // the proxy's own rule: bypassed calls left out
  setText("kHitRate", hits + misses ? pct(rate) : "–");
  $("kHitBar").style.width = (hits + misses ? rate * 100 : 0) + "%";
  $("kMissBar").style.width = (hits + misses ? (1 - rate) * 100 : 0) + "%";
  setText(
    "kHitSub",
    plural(hits, "hit", "hits") + " · " + plural(misses, "miss", "misses"),
    `${fmtInt(calls)} calls: ${fmtInt(hits)} hits, ${fmtInt(misses)} misses, ${
      fmtInt(s.errors)
    } errors, ` +
      `${fmtInt(s.bypassed)} bypassed`,
  );
  setText("kTokSaved", fmtCompact(s.tokensSaved), fmtInt(s.tokensSaved) + " tokens");
  setText("kTokSub", fmtCompact(s.tokensSpent) + " spent", fmtInt(s.tokensSpent) + " tokens spent");
  setText("kUsdSaved", fmtUsd(s.usdSaved), "$" + (Number(s.usdSaved) || 0).toFixed(6));
  setText(
    "kUsdSavedSub",
    Math.round(Number(s.savingsPct) || 0) + "% of total cost",
    "Saved over saved plus spent: what the calls would have cost without the cache",
  );
  setText("kUsdSpent", fmtUsd(s.usdSpent), "$" + (Number(s.usdSpent) || 0).toFixed(6));
  setText("kUsdSpentSub", "on " + plural(misses, "upstream call", "upstream calls"));
  const c = stats.store || {};
  setText("kEntries", fmtInt(c.entries));
  setText("kEntriesSub", fmtBytes(c.bytes) + " stored", fmtInt(c.bytes) + " bytes");
  $("offBanner").hidden = stats.cache !== "off";
  $("storeBanner").hidden = c.state !== "degraded";
  renderUptime();
  renderModels(s.models || {});
  for (const name of Object.keys(s.models || {})) state.known.models.add(name);
  fillFilters();
  document.title = (hits + misses ? pct(rate) + " hits · " : "") + "llm-cache-proxy";
}

/** Shows how long the proxy has been up, counted on from the last `/stats`. */
export function renderUptime() {
  if (!stats) return;
  setText("kUptime", fmtDuration((stats.uptimeSec || 0) + (Date.now() - statsAt) / 1000));
  if (stats.startedAt) {
    const d = new Date(stats.startedAt);
    const day = d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    setText("kUptimeSub", `since ${day} ${hhmm(d)}`, d.toString());
  }
}

/** @param {Record<string, any>} models */
function renderModels(models) {
  const tbody = $("models");
  const rows = Object.entries(models).sort((a, b) => (b[1].calls || 0) - (a[1].calls || 0));
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", null, el("td", { colspan: 5, class: "empty", text: "No calls yet" })));
  }
  for (const [name, m] of rows) {
    const decided = (m.hits || 0) + (m.misses || 0);
    const r = decided ? (m.hits || 0) / decided : 0;
    const bar = el("span");
    bar.style.width = r * 100 + "%";
    tbody.append(el(
      "tr",
      null,
      el("td", { class: "mono", text: shortModel(name), title: name }),
      el("td", { class: "n", text: fmtInt(m.calls) }),
      el("td", { class: "n" }, decided ? pct(r) : "–", el("span", { class: "mini" }, bar)),
      el("td", { class: "n saved", text: fmtUsd(m.usdSaved) }),
      el("td", { class: "n opt", text: fmtUsd(m.usdSpent) }),
    ));
  }
  setText("modelsNote", scope === "session" ? "this session" : "all time");
}

for (const b of document.querySelectorAll("#scope button")) {
  b.addEventListener("click", () => {
    scope = /** @type {HTMLElement} */ (b).dataset.scope ?? "all";
    for (const o of document.querySelectorAll("#scope button")) {
      o.setAttribute("aria-pressed", String(o === b));
    }
    renderStats();
  });
}
